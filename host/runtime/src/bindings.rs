//! Host bindings generated from `wit/`, the one contract: the current
//! package `nexus:plugin@0.2.0` (`wit/`) and the frozen `0.1.0`
//! (`wit/legacy/0.1.0`), which components built before 0.2.0 target. Within
//! a version the worlds share that version's `types` and `host` interfaces,
//! so one linker and one host implementation per version serve every kind.
#![allow(missing_docs)]

/// Contract 0.2.0.
pub(crate) mod v02 {
    /// The `decoder` world; its `nexus:plugin/{types,host}` are the shared ones.
    pub(crate) mod decoder {
        wasmtime::component::bindgen!({ world: "decoder", path: "../../wit" });
    }

    /// The `alarm-rule` world.
    pub(crate) mod alarm_rule {
        wasmtime::component::bindgen!({
            world: "alarm-rule",
            path: "../../wit",
            with: {
                "nexus:plugin/types": super::decoder::nexus::plugin::types,
                "nexus:plugin/host": super::decoder::nexus::plugin::host,
            },
        });
    }

    /// The `transform` world.
    pub(crate) mod transform {
        wasmtime::component::bindgen!({
            world: "transform",
            path: "../../wit",
            with: {
                "nexus:plugin/types": super::decoder::nexus::plugin::types,
                "nexus:plugin/host": super::decoder::nexus::plugin::host,
            },
        });
    }

    /// The `optimizer` world.
    pub(crate) mod optimizer {
        wasmtime::component::bindgen!({
            world: "optimizer",
            path: "../../wit",
            with: {
                "nexus:plugin/types": super::decoder::nexus::plugin::types,
                "nexus:plugin/host": super::decoder::nexus::plugin::host,
            },
        });
    }

    /// The `field-optimizer` world.
    pub(crate) mod field_optimizer {
        wasmtime::component::bindgen!({
            world: "field-optimizer",
            path: "../../wit",
            with: {
                "nexus:plugin/types": super::decoder::nexus::plugin::types,
                "nexus:plugin/host": super::decoder::nexus::plugin::host,
            },
        });
    }

    /// The `forecaster` world.
    pub(crate) mod forecaster {
        wasmtime::component::bindgen!({
            world: "forecaster",
            path: "../../wit",
            with: {
                "nexus:plugin/types": super::decoder::nexus::plugin::types,
                "nexus:plugin/host": super::decoder::nexus::plugin::host,
            },
        });
    }

    pub(crate) use decoder::nexus::plugin::{host, types};
}

/// Contract 0.1.0, kept so components built against it keep running.
pub(crate) mod v01 {
    /// The `decoder` world.
    pub(crate) mod decoder {
        wasmtime::component::bindgen!({ world: "decoder", path: "../../wit/legacy/0.1.0" });
    }

    /// The `alarm-rule` world.
    pub(crate) mod alarm_rule {
        wasmtime::component::bindgen!({
            world: "alarm-rule",
            path: "../../wit/legacy/0.1.0",
            with: {
                "nexus:plugin/types": super::decoder::nexus::plugin::types,
                "nexus:plugin/host": super::decoder::nexus::plugin::host,
            },
        });
    }

    /// The `optimizer` world.
    pub(crate) mod optimizer {
        wasmtime::component::bindgen!({
            world: "optimizer",
            path: "../../wit/legacy/0.1.0",
            with: {
                "nexus:plugin/types": super::decoder::nexus::plugin::types,
                "nexus:plugin/host": super::decoder::nexus::plugin::host,
            },
        });
    }

    pub(crate) use decoder::nexus::plugin::{host, types};
}
