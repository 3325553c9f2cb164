//! Runs a [`Script`] on a [`Sim`]: steps in order, expectations, end-of-run checks,
//! the run-twice determinism check and the golden transcript.
//!
//! In *strict* mode (scenarios) the first unmet expectation stops the run and
//! fails it with what arrived instead; at the end any message delivered to a
//! host and never consumed by an `expect` fails it too. In *lenient* mode (seed
//! sweeps with loss, [`crate::sweep`]) an `expect` skips messages that do not
//! match and records a miss instead of failing, so an invariant can judge the run.

use crate::digest::{self, DigestFn};
use crate::msg::{SipView, StartLine, param, render, same_header};
use crate::node::Factory;
use crate::script::{Action, Expect, ExpectKind, MatchOp, NetSetting, SaveSource, Script, Step};
use crate::sim::{LogEntry, Received, Sim};
use crate::transcript::{check_golden, diff, fmt_time, update_requested};
use crate::vars::{Vars, assemble};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// How to run a script.
#[derive(Debug, Clone)]
pub struct Options {
    /// Answers `${digest:...}` (the built-in RFC 7616 client by default).
    pub digest: DigestFn,
    /// How long an `expect` waits without `within` (40 s: past Timer B/F's 32 s).
    pub default_within: Duration,
    /// Replaces the script's `seed`.
    pub seed: Option<u64>,
    /// Impairments applied at time zero and again after every `net` step.
    pub net: Option<NetSetting>,
    /// Lenient mode (see the module docs).
    pub lenient: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            digest: digest::answer,
            default_within: Duration::from_secs(40),
            seed: None,
            net: None,
            lenient: false,
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed used.
    pub seed: u64,
    /// The full transcript.
    pub transcript: String,
    /// Every send and delivery.
    pub log: Vec<LogEntry>,
    /// Expectations that never matched (lenient mode).
    pub missed: Vec<String>,
    /// Why the run failed (strict mode, or a harness error such as the step bound).
    pub failure: Option<String>,
}

/// Runs `script` once.
pub fn run(script: &Script, factory: Factory<'_>, opts: &Options) -> Outcome {
    let mut script = script.clone();
    if let Some(s) = opts.seed {
        script.seed = s;
    }
    let mut outcome = Outcome {
        seed: script.seed,
        transcript: String::new(),
        log: Vec::new(),
        missed: Vec::new(),
        failure: None,
    };
    let mut sim = match Sim::new(&script, factory) {
        Ok(s) => s,
        Err(e) => {
            outcome.failure = Some(e);
            return outcome;
        }
    };
    let mut addrs: BTreeMap<String, _> = script
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.addr))
        .collect();
    if let Some((a, _)) = script.engine_addrs.first() {
        addrs.insert(script.engine.clone(), *a);
    }
    let mut r = Runner {
        vars: Vars::new(script.seed, addrs, opts.digest),
        opts,
        missed: Vec::new(),
    };
    if let Some(n) = &opts.net {
        sim.net_mut().configure(n);
    }
    let mut failure = None;
    for step in &script.steps {
        sim.note(&format!("script:{} {}", step.line, step.text));
        if let Err(e) = r.step(&mut sim, step) {
            failure = Some(format!("{}:{}: {e}", script.file, step.line));
            break;
        }
    }
    if failure.is_none() && !opts.lenient {
        let waiting = sim.waiting();
        if !waiting.is_empty() {
            let mut msg = format!(
                "{}: {} message(s) arrived but no `expect` consumed them:\n",
                script.file,
                waiting.len()
            );
            for (host, m) in waiting {
                msg.push_str(&describe(&host, &m));
            }
            failure = Some(msg);
        }
    }
    outcome.transcript = sim.transcript().to_owned();
    outcome.log = sim.log().to_vec();
    outcome.missed = r.missed;
    outcome.failure = failure;
    outcome
}

/// `<host> got at +t over UDP from addr:` and the message, indented.
fn describe(host: &str, m: &Received) -> String {
    format!(
        "  {host} got at {} over {} from {}:\n{}",
        fmt_time(m.at),
        m.transport,
        m.from,
        render(&m.data, "    | ")
    )
}

struct Runner<'o> {
    vars: Vars,
    opts: &'o Options,
    missed: Vec<String>,
}

impl Runner<'_> {
    fn step(&mut self, sim: &mut Sim, step: &Step) -> Result<(), String> {
        match &step.action {
            Action::Send {
                host,
                transport,
                to,
                lines,
            } => {
                let expanded = lines
                    .iter()
                    .map(|l| self.vars.expand(host, l))
                    .collect::<Result<Vec<_>, _>>();
                let expanded = match expanded {
                    Ok(e) => e,
                    // Lenient: a value that never arrived skips the send.
                    Err(e) => return self.miss(format!("`{}` not sent: {e}", step.text)),
                };
                sim.host_send(host, *transport, *to, assemble(&expanded).into())
            }
            Action::Expect(e) => self.expect(sim, e, &step.text),
            Action::ExpectEvent { pattern, within } => {
                let limit = sim.now() + within.unwrap_or(self.opts.default_within);
                let pattern = pattern
                    .iter()
                    .map(|w| self.vars.expand("", w))
                    .collect::<Result<Vec<_>, _>>()?;
                let found = sim.run_until_event(limit, &|text| event_matches(&pattern, text))?;
                match found {
                    Some(_) => Ok(()),
                    None => self.miss(format!(
                        "`{}`: no such event by {}",
                        step.text,
                        fmt_time(limit)
                    )),
                }
            }
            Action::ExpectNothing { host, duration } => {
                let limit = sim.now() + *duration;
                if self.opts.lenient {
                    return sim.run_until(limit);
                }
                if sim.run_until_message(host.as_deref(), limit)? {
                    let h = sim.first_waiting(host.as_deref()).unwrap_or_default();
                    let m = sim.take(&h).ok_or("message vanished")?;
                    return Err(format!(
                        "`{}`, but a message arrived:\n{}",
                        step.text,
                        describe(&h, &m)
                    ));
                }
                Ok(())
            }
            Action::Advance(d) => sim.run_until(sim.now() + *d),
            Action::Save { host, var, source } => {
                let m = self
                    .vars
                    .last(host)
                    .ok_or_else(|| format!("{host} has not received a message to save from"))?;
                let value = match source {
                    SaveSource::Header { name, param: None } => m.header(name).map(str::to_owned),
                    SaveSource::Header {
                        name,
                        param: Some(p),
                    } => m.header(name).and_then(|v| param(v, p)).map(str::to_owned),
                    SaveSource::Status => crate::vars::field_of(m, "status"),
                    SaveSource::Uri => crate::vars::field_of(m, "uri"),
                    SaveSource::Body => crate::vars::field_of(m, "body"),
                };
                match value {
                    Some(v) => {
                        self.vars.save(var, v);
                        Ok(())
                    }
                    None => self.miss(format!(
                        "`{}`: the last message {host} got has no such value",
                        step.text
                    )),
                }
            }
            Action::Lose { from, to, count } => {
                sim.net_mut().lose_next(from, to, *count);
                Ok(())
            }
            Action::Net(n) => {
                sim.net_mut().configure(n);
                if let Some(o) = &self.opts.net {
                    sim.net_mut().configure(o);
                }
                Ok(())
            }
            Action::Connect { host, to } => sim.host_connect(host, *to).map(|_| ()),
            Action::Close { host } => match sim.host_close(host) {
                0 => Err(format!("{host} has no open connection to close")),
                _ => Ok(()),
            },
        }
    }

    fn miss(&mut self, what: String) -> Result<(), String> {
        if self.opts.lenient {
            self.missed.push(what);
            Ok(())
        } else {
            Err(what)
        }
    }

    fn expect(&mut self, sim: &mut Sim, e: &Expect, text: &str) -> Result<(), String> {
        let limit = sim.now() + e.within.unwrap_or(self.opts.default_within);
        loop {
            if !sim.run_until_message(Some(&e.host), limit)? {
                return self.miss(format!(
                    "`{text}`: nothing arrived at {} by {}",
                    e.host,
                    fmt_time(limit)
                ));
            }
            let m = sim.take(&e.host).ok_or("message vanished")?;
            match self.check(&e.host, e, &m) {
                Ok(view) => {
                    self.vars.set_last(&e.host, view);
                    return Ok(());
                }
                Err(why) if self.opts.lenient => {
                    sim.note(&format!("(skipped at {}: {why})", e.host));
                }
                Err(why) => {
                    return Err(format!(
                        "`{text}`: {why}; instead:\n{}",
                        describe(&e.host, &m)
                    ));
                }
            }
        }
    }

    fn check(&mut self, host: &str, e: &Expect, m: &Received) -> Result<SipView, String> {
        if let Some(t) = e.transport
            && t != m.transport
        {
            return Err(format!("it came over {} instead of {t}", m.transport));
        }
        let v = SipView::parse(&m.data).ok_or("the message does not parse")?;
        match (&e.kind, &v.start) {
            (
                ExpectKind::Request { method, uri },
                StartLine::Request {
                    method: got,
                    uri: got_uri,
                },
            ) => {
                if method != got {
                    return Err(format!("method is {got}, not {method}"));
                }
                if let Some(u) = uri {
                    let u = self.vars.expand(host, u)?;
                    if u != *got_uri {
                        return Err(format!("Request-URI is {got_uri}, not {u}"));
                    }
                }
            }
            (ExpectKind::Response { code, method }, StartLine::Response { code: got, .. }) => {
                let got_s = got.to_string();
                let ok = if let Some(class) = code.strip_suffix("xx") {
                    got_s.starts_with(class)
                } else {
                    *code == got_s
                };
                if !ok {
                    return Err(format!("status is {got}, not {code}"));
                }
                if let Some(mm) = method
                    && v.cseq_method() != Some(mm.as_str())
                {
                    return Err(format!("CSeq method is {:?}, not {mm}", v.cseq_method()));
                }
            }
            (ExpectKind::Request { .. }, _) => {
                return Err("a response arrived, not a request".into());
            }
            (ExpectKind::Response { .. }, _) => {
                return Err("a request arrived, not a response".into());
            }
        }
        for hm in &e.headers {
            let want = self.vars.expand(host, &hm.value)?;
            let mut values: Vec<String> = if hm.name.eq_ignore_ascii_case("body") {
                vec![String::from_utf8_lossy(&v.body).into_owned()]
            } else if hm.name.eq_ignore_ascii_case("headers") {
                // Every header line, `Name: value` (e.g. `headers !~ 192.0.2.101`).
                v.headers
                    .iter()
                    .map(|(n, val)| format!("{n}: {val}"))
                    .collect()
            } else {
                v.headers
                    .iter()
                    .filter(|(n, _)| same_header(n, &hm.name))
                    .map(|(_, val)| val.clone())
                    .collect()
            };
            if let Some(i) = hm.index {
                values = values.into_iter().skip(i - 1).take(1).collect();
            }
            let ok = match hm.op {
                MatchOp::Present => !values.is_empty(),
                MatchOp::Absent => values.is_empty(),
                MatchOp::Contains => values.iter().any(|x| x.contains(&want)),
                MatchOp::Equals => values.iter().any(|x| x.trim() == want),
                MatchOp::NotContains => !values.iter().any(|x| x.contains(&want)),
                MatchOp::Count => want.parse() == Ok(values.len()),
            };
            if !ok {
                let op = match hm.op {
                    MatchOp::Present => "present".to_owned(),
                    MatchOp::Absent => "absent".to_owned(),
                    MatchOp::Contains => format!("~ {want}"),
                    MatchOp::Equals => format!("= {want}"),
                    MatchOp::NotContains => format!("!~ {want}"),
                    MatchOp::Count => format!("count {want}"),
                };
                let index = hm.index.map(|i| format!("[{i}]")).unwrap_or_default();
                return Err(format!(
                    "header {}{index} {op} does not hold (values: {values:?})",
                    hm.name
                ));
            }
        }
        Ok(v)
    }
}

/// Does an event's debug text match `expect event` words? The first word must
/// start the text (the variant name); `k=v` matches a field `k: v` or `k: "v"`
/// (or the literal text `k=v`); any other word must appear somewhere.
pub fn event_matches(pattern: &[String], text: &str) -> bool {
    let mut words = pattern.iter();
    let Some(first) = words.next() else {
        return false;
    };
    if !text.starts_with(first.as_str()) {
        return false;
    }
    words.all(|w| match w.split_once('=') {
        Some((k, v)) => {
            text.contains(w.as_str())
                || text.contains(&format!("{k}: {v}"))
                || text.contains(&format!("{k}: \"{v}\""))
        }
        None => text.contains(w.as_str()),
    })
}

/// The last `n` lines of a transcript, for failure reports.
fn tail(t: &str, n: usize) -> String {
    let lines: Vec<&str> = t.lines().collect();
    let from = lines.len().saturating_sub(n);
    let mut out = String::new();
    if from > 0 {
        out.push_str(&format!("[... {from} earlier lines ...]\n"));
    }
    for l in &lines[from..] {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Parses and runs one scenario file twice with its seed, checks that both
/// transcripts are byte-identical, then checks (or with `UPDATE_GOLDEN=1`
/// rewrites) `<name>.transcript` beside it.
///
/// # Errors
/// A readable report: parse error with file and line, the failed expectation
/// with the transcript so far, a determinism diff, or a golden diff.
pub fn check_scenario_file(
    path: &Path,
    factory: Factory<'_>,
    opts: &Options,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let script = Script::parse(&name, &text).map_err(|e| e.to_string())?;
    let first = run(&script, factory, opts);
    if let Some(f) = first.failure {
        return Err(format!(
            "{f}\n--- transcript so far ---\n{}",
            tail(&first.transcript, 200)
        ));
    }
    let second = run(&script, factory, opts);
    if let Some(d) = diff(&first.transcript, &second.transcript) {
        return Err(format!(
            "{name}: two runs with seed {} differ (nondeterminism)\n{d}",
            script.seed
        ));
    }
    check_golden(
        &path.with_extension("transcript"),
        &first.transcript,
        update_requested(),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests;
