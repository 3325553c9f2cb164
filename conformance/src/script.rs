//! The scenario script language (`conformance/scenarios/*.scn`): parser and syntax tree.
//!
//! A script is a list of lines. Declarations (`seed`, `engine`, `config`,
//! `extension`, `host`, `steps`) set the scene; every other directive is a
//! step run in order on the virtual clock. Lines starting with `|` belong to
//! the directive above them: a SIP message for `send` (RFC 3261 §7 text, with
//! `${...}` variables expanded when the step runs) or header matchers for
//! `expect`. The full grammar is in the crate documentation ([`crate`]).
//!
//! Every error names the file and the line: `register.scn:12: unknown host "bob"`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use switchboard_core::Transport;

/// A script error: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The file name (or `<inline>`).
    pub file: String,
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ScriptError {}

/// A scripted host (a UA the script speaks for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDecl {
    /// Its name in the script.
    pub name: String,
    /// Its address (IPv4 or IPv6).
    pub addr: SocketAddr,
    /// The transports it listens on.
    pub transports: Vec<Transport>,
}

/// One `extension <user> password=<pw> [key=value ...]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionDecl {
    /// The user part.
    pub user: String,
    /// The password.
    pub password: String,
    /// Other `key=value` attributes, in order.
    pub extra: Vec<(String, String)>,
}

/// Impairment settings from a `net` line; `None` leaves a setting unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetSetting {
    /// The host whose link this applies to; `None` for the global default.
    pub host: Option<String>,
    /// Loss probability (UDP only).
    pub loss: Option<f64>,
    /// One-way delay range.
    pub delay: Option<(Duration, Duration)>,
    /// Duplication probability (UDP only).
    pub dup: Option<f64>,
    /// Reordering probability (UDP only).
    pub reorder: Option<f64>,
    /// Probability that a stream write is split into pieces (TCP).
    pub split: Option<f64>,
}

/// How a header matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `Name ~ text`: some instance contains the text.
    Contains,
    /// `Name = text`: some instance equals the text (trimmed).
    Equals,
    /// `Name !`: no instance.
    Absent,
    /// `Name`: at least one instance.
    Present,
    /// `Name !~ text`: no instance contains the text.
    NotContains,
    /// `Name count n`: exactly `n` instances (header lines, not comma-separated values).
    Count,
}

/// One `| Name op value` line under an `expect`. The name `body` matches the body;
/// `Name[n]` looks only at the n-th instance of the header (1-based, in order),
/// e.g. `Via[1]` is the top Via line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatch {
    /// The header name (or `body`), without the `[n]` index.
    pub name: String,
    /// `Some(n)` for `Name[n]`: only the n-th instance (1-based).
    pub index: Option<usize>,
    /// The comparison.
    pub op: MatchOp,
    /// The value, with `${...}` expanded when the step runs.
    pub value: String,
}

/// What kind of message an `expect` wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectKind {
    /// A request with this method and, optionally, this Request-URI.
    Request {
        /// The method.
        method: String,
        /// The exact Request-URI, if given.
        uri: Option<String>,
    },
    /// A response whose code matches (`401` or a class `2xx`) and, optionally, whose CSeq method matches.
    Response {
        /// `401` or `2xx`.
        code: String,
        /// The CSeq method, if given.
        method: Option<String>,
    },
}

/// An `expect <host> ...` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The host that must receive it.
    pub host: String,
    /// What it must be.
    pub kind: ExpectKind,
    /// `over udp|tcp`.
    pub transport: Option<Transport>,
    /// `within <dur>`; the runner's default otherwise.
    pub within: Option<Duration>,
    /// Header matchers.
    pub headers: Vec<HeaderMatch>,
}

/// Where `save` reads from (the last message the host's `expect` consumed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveSource {
    /// `header <Name> [param <p>]`.
    Header {
        /// The header.
        name: String,
        /// The parameter, if any.
        param: Option<String>,
    },
    /// `status`: the response code.
    Status,
    /// `uri`: the Request-URI.
    Uri,
    /// `body`: the body as text.
    Body,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `send <host> <udp|tcp> [to <addr>]` + `|` lines.
    Send {
        /// The sender.
        host: String,
        /// The transport.
        transport: Transport,
        /// The engine address to send to (the engine's first matching address otherwise).
        to: Option<SocketAddr>,
        /// The message lines, unexpanded.
        lines: Vec<String>,
    },
    /// `expect <host> request|response ...`.
    Expect(Expect),
    /// `expect event <words...> [within <dur>]`.
    ExpectEvent {
        /// Words: the first is the event name prefix; `k=v` matches a field.
        pattern: Vec<String>,
        /// Deadline.
        within: Option<Duration>,
    },
    /// `expect nothing [<host>] <dur>`.
    ExpectNothing {
        /// Only this host, or every host.
        host: Option<String>,
        /// How long it must stay quiet.
        duration: Duration,
    },
    /// `advance <dur>`.
    Advance(Duration),
    /// `save <host> <var> = <source>`.
    Save {
        /// Whose last message.
        host: String,
        /// The variable (`${saved:var}`).
        var: String,
        /// What to read.
        source: SaveSource,
    },
    /// `lose next <a>-><b> <n>`.
    Lose {
        /// Sender name.
        from: String,
        /// Receiver name.
        to: String,
        /// How many messages to drop.
        count: u32,
    },
    /// `net [host] key=value...`.
    Net(NetSetting),
    /// `connect <host> [to <addr>]`: open a TCP connection to the engine.
    Connect {
        /// The host.
        host: String,
        /// The engine address.
        to: Option<SocketAddr>,
    },
    /// `close <host>`: close the host's TCP connection(s).
    Close {
        /// The host.
        host: String,
    },
}

/// One step with its source line.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based line number.
    pub line: usize,
    /// The directive line as written (comments stripped), for transcripts.
    pub text: String,
    /// What it does.
    pub action: Action,
}

/// A parsed scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The file name.
    pub file: String,
    /// `seed N` (0 by default).
    pub seed: u64,
    /// The engine's name in the script (`server` by default).
    pub engine: String,
    /// The engine's addresses and transports, from `engine` lines.
    pub engine_addrs: Vec<(SocketAddr, Vec<Transport>)>,
    /// `config key=value` lines.
    pub config: Vec<(String, String)>,
    /// `extension` lines.
    pub extensions: Vec<ExtensionDecl>,
    /// `host` lines.
    pub hosts: Vec<HostDecl>,
    /// `steps N`: the livelock bound.
    pub max_steps: Option<u64>,
    /// The steps in order.
    pub steps: Vec<Step>,
}

/// Parses a duration: `500us`, `5ms`, `1s`, `1.5s`, `2m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" => v * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

fn parse_transport(s: &str) -> Option<Transport> {
    match s.to_ascii_lowercase().as_str() {
        "udp" => Some(Transport::Udp),
        "tcp" => Some(Transport::Tcp),
        _ => None,
    }
}

fn parse_prob(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p))
}

/// Strips a trailing `# comment` (a `#` at the start or after whitespace).
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    match line.find(" #").or_else(|| line.find("\t#")) {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The names a host may not take (they are keywords after `expect`).
const RESERVED: [&str; 2] = ["event", "nothing"];

struct Parser<'a> {
    file: &'a str,
    line: usize,
}

impl Parser<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, ScriptError> {
        Err(ScriptError {
            file: self.file.to_owned(),
            line: self.line,
            message: message.into(),
        })
    }

    fn duration(&self, s: Option<&&str>) -> Result<Duration, ScriptError> {
        match s.and_then(|s| parse_duration(s)) {
            Some(d) => Ok(d),
            None => self.err(format!(
                "expected a duration like 5ms or 1.5s, found {:?}",
                s.copied().unwrap_or("")
            )),
        }
    }

    fn addr(&self, s: Option<&&str>) -> Result<SocketAddr, ScriptError> {
        match s.and_then(|s| s.parse().ok()) {
            Some(a) => Ok(a),
            None => self.err(format!(
                "expected an address like 192.0.2.1:5060 or [2001:db8::1]:5060, found {:?}",
                s.copied().unwrap_or("")
            )),
        }
    }

    fn transports(&self, words: &[&str]) -> Result<Vec<Transport>, ScriptError> {
        let mut out = Vec::new();
        for w in words {
            match parse_transport(w) {
                Some(t) => out.push(t),
                None => return self.err(format!("unknown transport {w:?} (udp, tcp)")),
            }
        }
        if out.is_empty() {
            return self.err("expected at least one transport (udp, tcp)");
        }
        Ok(out)
    }

    fn key_values(&self, words: &[&str]) -> Result<Vec<(String, String)>, ScriptError> {
        words
            .iter()
            .map(|w| match w.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
                _ => self.err(format!("expected key=value, found {w:?}")),
            })
            .collect()
    }

    /// `[over udp|tcp] [within <dur>]` options after an expect.
    fn expect_options(
        &self,
        words: &[&str],
    ) -> Result<(Option<Transport>, Option<Duration>), ScriptError> {
        let (mut transport, mut within) = (None, None);
        let mut i = 0;
        while let Some(w) = words.get(i) {
            match *w {
                "over" => match words.get(i + 1).and_then(|t| parse_transport(t)) {
                    Some(t) => transport = Some(t),
                    None => return self.err("`over` needs udp or tcp"),
                },
                "within" => within = Some(self.duration(words.get(i + 1))?),
                other => return self.err(format!("unexpected {other:?} in expect")),
            }
            i += 2;
        }
        Ok((transport, within))
    }

    fn net(&self, words: &[&str]) -> Result<NetSetting, ScriptError> {
        let mut n = NetSetting::default();
        let mut rest = words;
        if let Some(first) = words.first()
            && !first.contains('=')
        {
            n.host = Some((*first).to_owned());
            rest = &words[1..];
        }
        for (k, v) in self.key_values(rest)? {
            let prob = || match parse_prob(&v) {
                Some(p) => Ok(Some(p)),
                None => self.err(format!("{k} must be a probability in [0, 1], found {v:?}")),
            };
            match k.as_str() {
                "loss" => n.loss = prob()?,
                "dup" => n.dup = prob()?,
                "reorder" => n.reorder = prob()?,
                "split" => n.split = prob()?,
                "delay" => {
                    let (lo, hi) = v.split_once("..").unwrap_or((&v, &v));
                    let lo = self.duration(Some(&lo))?;
                    let hi = self.duration(Some(&hi))?;
                    if hi < lo {
                        return self.err("delay range must be low..high");
                    }
                    n.delay = Some((lo, hi));
                }
                _ => return self.err(format!("unknown net setting {k:?}")),
            }
        }
        Ok(n)
    }

    fn header_match(&self, text: &str) -> Result<HeaderMatch, ScriptError> {
        let text = strip_comment(text).trim();
        let name_end = text
            .find(|c: char| c.is_whitespace() || matches!(c, '~' | '=' | '!'))
            .unwrap_or(text.len());
        let (name, rest) = text.split_at(name_end);
        if name.is_empty() {
            return self.err(
                "expected `| Header ~ text`, `= text`, `!~ text`, `count n`, `!` or a bare `| Header`",
            );
        }
        let (name, index) = match name.strip_suffix(']').and_then(|n| n.split_once('[')) {
            Some((n, i)) => match i.parse::<usize>() {
                Ok(i) if i >= 1 && !n.is_empty() => (n, Some(i)),
                _ => return self.err(format!("bad header index in {name:?} (1-based)")),
            },
            None => (name, None),
        };
        let rest = rest.trim_start();
        let (op, value) = if let Some(v) = rest.strip_prefix("!~") {
            (MatchOp::NotContains, v.trim())
        } else if let Some(v) = rest.strip_prefix("count ") {
            if v.trim().parse::<usize>().is_err() {
                return self.err(format!("`count` needs a number in {text:?}"));
            }
            (MatchOp::Count, v.trim())
        } else {
            match rest.chars().next() {
                None => (MatchOp::Present, ""),
                Some('~') => (MatchOp::Contains, rest[1..].trim()),
                Some('=') => (MatchOp::Equals, rest[1..].trim()),
                Some('!') if rest[1..].trim().is_empty() => (MatchOp::Absent, ""),
                _ => {
                    return self.err(format!(
                        "bad matcher operator in {text:?} (use ~, =, !~, count, !)"
                    ));
                }
            }
        };
        Ok(HeaderMatch {
            name: name.to_owned(),
            index,
            op,
            value: value.to_owned(),
        })
    }

    fn save(&self, w: &[&str]) -> Result<Action, ScriptError> {
        let (Some(host), Some(var), Some(&"="), Some(what)) =
            (w.get(1), w.get(2), w.get(3), w.get(4))
        else {
            return self
                .err("expected `save <host> <var> = header <Name> [param <p>]|status|uri|body`");
        };
        let source = match (*what, w.get(5), w.get(6), w.get(7)) {
            ("header", Some(name), None, None) => SaveSource::Header {
                name: (*name).to_owned(),
                param: None,
            },
            ("header", Some(name), Some(&"param"), Some(p)) => SaveSource::Header {
                name: (*name).to_owned(),
                param: Some((*p).to_owned()),
            },
            ("status", None, ..) => SaveSource::Status,
            ("uri", None, ..) => SaveSource::Uri,
            ("body", None, ..) => SaveSource::Body,
            _ => return self.err(format!("unknown save source {:?}", w[4..].join(" "))),
        };
        Ok(Action::Save {
            host: (*host).to_owned(),
            var: (*var).to_owned(),
            source,
        })
    }

    fn expect(&self, w: &[&str]) -> Result<Action, ScriptError> {
        match w.get(1).copied() {
            Some("event") => {
                let within_at = w.iter().position(|x| *x == "within").unwrap_or(w.len());
                let pattern: Vec<String> =
                    w[2..within_at].iter().map(|s| (*s).to_owned()).collect();
                if pattern.is_empty() {
                    return self.err("`expect event` needs an event name");
                }
                let (_, within) = self.expect_options(&w[within_at..])?;
                Ok(Action::ExpectEvent { pattern, within })
            }
            Some("nothing") => {
                let (host, dur) = match (w.get(2), w.get(3)) {
                    (Some(d), None) => (None, Some(d)),
                    (Some(h), Some(d)) => (Some((*h).to_owned()), Some(d)),
                    _ => (None, None),
                };
                let duration = self.duration(dur)?;
                if w.len() > 4 {
                    return self.err("expected `expect nothing [<host>] <duration>`");
                }
                Ok(Action::ExpectNothing { host, duration })
            }
            Some(host) => {
                let (kind, used) = match (w.get(2).copied(), w.get(3), w.get(4)) {
                    (Some("request"), Some(m), uri) => {
                        let uri = uri.filter(|u| !matches!(**u, "over" | "within"));
                        let used = if uri.is_some() { 5 } else { 4 };
                        let kind = ExpectKind::Request {
                            method: (*m).to_owned(),
                            uri: uri.map(|u| (*u).to_owned()),
                        };
                        (kind, used)
                    }
                    (Some("response"), Some(code), m) => {
                        let valid = code.len() == 3
                            && (code.bytes().all(|b| b.is_ascii_digit())
                                || (code.as_bytes()[0].is_ascii_digit() && code.ends_with("xx")));
                        if !valid {
                            return self.err(format!("bad status {code:?} (e.g. 200 or 2xx)"));
                        }
                        let m = m.filter(|m| !matches!(**m, "over" | "within"));
                        let used = if m.is_some() { 5 } else { 4 };
                        let kind = ExpectKind::Response {
                            code: (*code).to_owned(),
                            method: m.map(|m| (*m).to_owned()),
                        };
                        (kind, used)
                    }
                    _ => {
                        return self.err(
                            "expected `expect <host> request <METHOD> [uri]` or `expect <host> response <code> [METHOD]`",
                        );
                    }
                };
                let (transport, within) = self.expect_options(w.get(used..).unwrap_or(&[]))?;
                Ok(Action::Expect(Expect {
                    host: host.to_owned(),
                    kind,
                    transport,
                    within,
                    headers: Vec::new(),
                }))
            }
            None => self.err("`expect` needs a host, `event` or `nothing`"),
        }
    }
}

impl Script {
    /// Parses script text; `file` names it in errors.
    ///
    /// # Errors
    /// The first problem, with its file and line.
    pub fn parse(file: &str, text: &str) -> Result<Self, ScriptError> {
        let mut s = Self {
            file: file.to_owned(),
            seed: 0,
            engine: "server".to_owned(),
            engine_addrs: Vec::new(),
            config: Vec::new(),
            extensions: Vec::new(),
            hosts: Vec::new(),
            max_steps: None,
            steps: Vec::new(),
        };
        let mut p = Parser { file, line: 0 };
        let mut engine_named = false;
        for (i, raw) in text.lines().enumerate() {
            p.line = i + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(pipe) = raw.trim_start().strip_prefix('|') {
                let content = pipe.strip_prefix(' ').unwrap_or(pipe);
                match s.steps.last_mut().map(|st| &mut st.action) {
                    Some(Action::Send { lines, .. }) => lines.push(content.to_owned()),
                    Some(Action::Expect(e)) => e.headers.push(p.header_match(content)?),
                    _ => return p.err("a `|` line must follow `send` or `expect <host>`"),
                }
                continue;
            }
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            let w: Vec<&str> = line.split_whitespace().collect();
            let step = |action| Step {
                line: p.line,
                text: line.to_owned(),
                action,
            };
            match w[0] {
                "seed" => match w.get(1).and_then(|v| v.parse().ok()) {
                    Some(v) if w.len() == 2 => s.seed = v,
                    _ => return p.err("expected `seed <u64>`"),
                },
                "steps" => match w.get(1).and_then(|v| v.parse().ok()) {
                    Some(v) if w.len() == 2 => s.max_steps = Some(v),
                    _ => return p.err("expected `steps <u64>`"),
                },
                "engine" => {
                    let Some(name) = w.get(1) else {
                        return p.err("expected `engine <name> <addr> <transports...>`");
                    };
                    if engine_named && *name != s.engine {
                        return p.err(format!("the engine is already called {:?}", s.engine));
                    }
                    s.engine = (*name).to_owned();
                    engine_named = true;
                    let addr = p.addr(w.get(2))?;
                    let ts = p.transports(w.get(3..).unwrap_or(&[]))?;
                    s.engine_addrs.push((addr, ts));
                }
                "config" => s.config.extend(p.key_values(&w[1..])?),
                "extension" => {
                    let Some(user) = w.get(1) else {
                        return p.err("expected `extension <user> password=<pw>`");
                    };
                    let mut kv = p.key_values(&w[2..])?;
                    let Some(pos) = kv.iter().position(|(k, _)| k == "password") else {
                        return p.err("extension needs password=<pw>");
                    };
                    let password = kv.remove(pos).1;
                    s.extensions.push(ExtensionDecl {
                        user: (*user).to_owned(),
                        password,
                        extra: kv,
                    });
                }
                "host" => {
                    let Some(name) = w.get(1) else {
                        return p.err("expected `host <name> <addr> <transports...>`");
                    };
                    if RESERVED.contains(name) || s.hosts.iter().any(|h| h.name == *name) {
                        return p.err(format!("host name {name:?} is reserved or already used"));
                    }
                    let addr = p.addr(w.get(2))?;
                    let transports = p.transports(w.get(3..).unwrap_or(&[]))?;
                    s.hosts.push(HostDecl {
                        name: (*name).to_owned(),
                        addr,
                        transports,
                    });
                }
                "send" => {
                    let (Some(host), Some(t)) = (w.get(1), w.get(2)) else {
                        return p.err("expected `send <host> <udp|tcp> [to <addr>]`");
                    };
                    let Some(transport) = parse_transport(t) else {
                        return p.err(format!("unknown transport {t:?} (udp, tcp)"));
                    };
                    let to = match (w.get(3), w.len()) {
                        (None, _) => None,
                        (Some(&"to"), 5) => Some(p.addr(w.get(4))?),
                        _ => return p.err("expected `send <host> <udp|tcp> [to <addr>]`"),
                    };
                    s.steps.push(step(Action::Send {
                        host: (*host).to_owned(),
                        transport,
                        to,
                        lines: Vec::new(),
                    }));
                }
                "expect" => s.steps.push(step(p.expect(&w)?)),
                "advance" => {
                    let d = p.duration(w.get(1))?;
                    s.steps.push(step(Action::Advance(d)));
                }
                "save" => s.steps.push(step(p.save(&w)?)),
                "lose" => {
                    let path = w.get(2).and_then(|p| p.split_once("->"));
                    let count = w.get(3).map_or(Some(1), |c| c.parse().ok());
                    match (w.get(1), path, count) {
                        (Some(&"next"), Some((a, b)), Some(count)) if w.len() <= 4 => {
                            s.steps.push(step(Action::Lose {
                                from: a.to_owned(),
                                to: b.to_owned(),
                                count,
                            }));
                        }
                        _ => return p.err("expected `lose next <from>-><to> [count]`"),
                    }
                }
                "net" => s.steps.push(step(Action::Net(p.net(&w[1..])?))),
                "connect" => {
                    let Some(host) = w.get(1) else {
                        return p.err("expected `connect <host> [to <addr>]`");
                    };
                    let to = match w.get(2) {
                        None => None,
                        Some(&"to") => Some(p.addr(w.get(3))?),
                        Some(_) => return p.err("expected `connect <host> [to <addr>]`"),
                    };
                    s.steps.push(step(Action::Connect {
                        host: (*host).to_owned(),
                        to,
                    }));
                }
                "close" => match w.get(1) {
                    Some(h) if w.len() == 2 => s.steps.push(step(Action::Close {
                        host: (*h).to_owned(),
                    })),
                    _ => return p.err("expected `close <host>`"),
                },
                other => return p.err(format!("unknown directive {other:?}")),
            }
        }
        s.validate()?;
        Ok(s)
    }

    /// Checks names after the whole file is read.
    fn validate(&self) -> Result<(), ScriptError> {
        let mut p = Parser {
            file: &self.file,
            line: 1,
        };
        if self.engine_addrs.is_empty() {
            return p.err("no `engine <name> <addr> <transports>` line");
        }
        let is_host = |h: &str| self.hosts.iter().any(|d| d.name == h);
        let is_node = |h: &str| is_host(h) || h == self.engine;
        for st in &self.steps {
            p.line = st.line;
            let bad = match &st.action {
                Action::Send { host, lines, .. } => {
                    if lines.is_empty() {
                        return p.err("`send` needs a message in `|` lines below it");
                    }
                    (!is_host(host)).then_some(host)
                }
                Action::Expect(e) => (!is_host(&e.host)).then_some(&e.host),
                Action::ExpectNothing { host: Some(h), .. }
                | Action::Save { host: h, .. }
                | Action::Connect { host: h, .. }
                | Action::Close { host: h } => (!is_host(h)).then_some(h),
                Action::Net(NetSetting { host: Some(h), .. }) => (!is_host(h)).then_some(h),
                Action::Lose { from, to, .. } => {
                    if !is_node(from) {
                        Some(from)
                    } else if !is_node(to) {
                        Some(to)
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some(h) = bad {
                return p.err(format!("unknown host {h:?}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
