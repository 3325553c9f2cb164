//! A minimal node for the harness's own unit tests: echoes every datagram and
//! stream read back on the same path, and fires a timer event at a fixed interval.

use crate::node::{Node, ScenarioSetup};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use switchboard_core::event::LogLevel;
use switchboard_core::{Event, Input, Output, Transmit, Transport};

/// Echoes what it gets; `config tick=<ms>` makes it log `tick` every that many ms.
pub(crate) struct Echo {
    out: VecDeque<Output>,
    now: Instant,
    tick: Option<Duration>,
    next_tick: Option<Instant>,
    /// `config stuck=1`: always asks to be woken now (a livelock).
    stuck: bool,
}

impl Echo {
    pub(crate) fn boxed(setup: &ScenarioSetup) -> Box<dyn Node> {
        let tick = setup
            .config("tick")
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis);
        Box::new(Self {
            out: VecDeque::new(),
            now: setup.epoch,
            tick,
            next_tick: tick.map(|t| setup.epoch + t),
            stuck: setup.config("stuck").is_some(),
        })
    }
}

impl Node for Echo {
    fn handle_input(&mut self, input: Input) {
        self.now = input.now();
        match input {
            Input::Datagram { flow, data, .. } => self.out.push_back(Output::Transmit(Transmit {
                transport: Transport::Udp,
                local: Some(flow.local),
                remote: flow.remote,
                conn: None,
                data,
            })),
            Input::StreamData { conn, data, .. } => {
                self.out.push_back(Output::Transmit(Transmit {
                    transport: Transport::Tcp,
                    local: None,
                    remote: "0.0.0.0:0".parse().expect("literal address"),
                    conn: Some(conn),
                    data,
                }))
            }
            Input::Timeout(now) => {
                if let (Some(t), Some(n)) = (self.tick, self.next_tick)
                    && now >= n
                {
                    self.next_tick = Some(n + t);
                    self.out.push_back(Output::Event(Event::Log {
                        level: LogLevel::Debug,
                        message: "tick".into(),
                    }));
                }
            }
            _ => {}
        }
    }

    fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        if self.stuck {
            return Output::Timeout(self.now);
        }
        Output::Timeout(
            self.next_tick
                .unwrap_or(self.now + Duration::from_secs(86_400)),
        )
    }
}
