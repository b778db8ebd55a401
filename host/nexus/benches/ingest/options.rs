//! The ingest benchmark's command line: every mode's options, parsed from
//! `--name value` pairs (an unknown or malformed value keeps the default).

pub(crate) struct Options {
    pub(crate) devices: usize,
    pub(crate) samples: Vec<usize>,
    pub(crate) connections: Vec<usize>,
    pub(crate) seconds: u64,
    /// Seconds of open-loop load at twice the sustainable rate (0: skip).
    pub(crate) overload: u64,
    /// Days of one device's 1 Hz telemetry to backtest over (0: skip).
    pub(crate) backtest: u64,
    /// Seconds of open-loop load at half the sustainable rate (0: skip).
    pub(crate) half_load: u64,
    /// `--half-load-rate R`: the open loop's rate, requests/s, instead of half the sweep's best.
    pub(crate) half_load_rate: Option<f64>,
    /// Seconds per side of the fairness run (0: skip).
    pub(crate) fairness: u64,
    /// `--fairness-limit W`: tenant A's profile limits its devices' messages
    /// together to the rate windows `W` (`N:seconds,…`); none by default.
    pub(crate) fairness_limit: Option<String>,
    /// Modbus mode: slaves polled (0: the HTTP benchmark).
    pub(crate) modbus: usize,
    /// Modbus mode: registers per slave (one block).
    pub(crate) registers: u16,
    /// Modbus mode: poll period, ms.
    pub(crate) poll_ms: u32,
    /// OPC UA mode: devices on the in-process server (0: not this mode).
    pub(crate) opcua: usize,
    /// OPC UA mode: nodes per device.
    pub(crate) nodes: usize,
    /// OPC UA mode: `subscribe` or `poll`.
    pub(crate) opcua_mode: String,
    /// Messages through MQTT (0: the HTTP rows instead).
    pub(crate) mqtt: usize,
    /// MQTT publishers.
    pub(crate) publishers: usize,
    /// PostgreSQL server to run on (none: SQLite).
    pub(crate) postgres: Option<String>,
    /// Records through Kafka (0: the HTTP rows instead).
    pub(crate) kafka: usize,
    /// Rounds of publish → live of a 1 MiB signed component (0: skip).
    pub(crate) publish: usize,
    /// Storage-only mode: batches committed per backend (0: not this mode).
    pub(crate) storage: usize,
    /// Storage-only mode: frames per batch.
    pub(crate) frames: usize,
    /// Storage-only mode: committers side by side.
    pub(crate) committers: usize,
    /// Storage-only mode: alarm signals per frame (raise and clear in turn).
    pub(crate) signals: usize,
}

pub(crate) fn options() -> Options {
    let mut o = Options {
        devices: 100,
        samples: vec![1, 100],
        connections: vec![1, 32],
        seconds: 10,
        overload: 0,
        backtest: 0,
        half_load: 0,
        half_load_rate: None,
        fairness: 0,
        fairness_limit: None,
        modbus: 0,
        registers: 125,
        poll_ms: 100,
        opcua: 0,
        nodes: 10,
        opcua_mode: "subscribe".into(),
        mqtt: 0,
        publishers: 4,
        postgres: None,
        kafka: 0,
        publish: 0,
        storage: 0,
        frames: 8,
        committers: 1,
        signals: 0,
    };
    let args: Vec<String> = std::env::args().collect();
    let list = |v: &str| v.split(',').filter_map(|x| x.parse().ok()).collect::<Vec<usize>>();
    for pair in args.windows(2) {
        match pair[0].as_str() {
            "--devices" => o.devices = pair[1].parse().unwrap_or(o.devices),
            "--samples" => o.samples = list(&pair[1]),
            "--connections" => o.connections = list(&pair[1]),
            "--seconds" => o.seconds = pair[1].parse().unwrap_or(o.seconds),
            "--overload" => o.overload = pair[1].parse().unwrap_or(0),
            "--backtest" => o.backtest = pair[1].parse().unwrap_or(0),
            "--half-load" => o.half_load = pair[1].parse().unwrap_or(0),
            "--half-load-rate" => o.half_load_rate = pair[1].parse().ok(),
            "--fairness" => o.fairness = pair[1].parse().unwrap_or(0),
            "--fairness-limit" => o.fairness_limit = Some(pair[1].clone()),
            "--modbus" => o.modbus = pair[1].parse().unwrap_or(0),
            "--registers" => o.registers = pair[1].parse().unwrap_or(o.registers),
            "--poll-ms" => o.poll_ms = pair[1].parse().unwrap_or(o.poll_ms),
            "--opcua" => o.opcua = pair[1].parse().unwrap_or(0),
            "--nodes" => o.nodes = pair[1].parse().unwrap_or(o.nodes).max(1),
            "--opcua-mode" => o.opcua_mode = pair[1].clone(),
            "--mqtt" => o.mqtt = pair[1].parse().unwrap_or(0),
            "--kafka" => o.kafka = pair[1].parse().unwrap_or(0),
            "--publish" => o.publish = pair[1].parse().unwrap_or(0),
            "--storage" => o.storage = pair[1].parse().unwrap_or(0),
            "--frames" => o.frames = pair[1].parse().unwrap_or(o.frames).max(1),
            "--committers" => o.committers = pair[1].parse().unwrap_or(o.committers).max(1),
            "--signals" => o.signals = pair[1].parse().unwrap_or(0),
            "--publishers" => o.publishers = pair[1].parse().unwrap_or(o.publishers).max(1),
            "--postgres" => o.postgres = Some(pair[1].trim_end_matches('/').to_string()),
            _ => {}
        }
    }
    o
}
