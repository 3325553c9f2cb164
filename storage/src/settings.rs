//! Settings (placeholder).
/// x
#[derive(Debug)]
pub struct Settings;
/// x
#[derive(Debug)]
pub struct SettingsError;
