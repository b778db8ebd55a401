//! Host bindings generated from `wit/`, the one contract. The three worlds
//! share the `types` and `host` interfaces of the `decoder` bindings, so one
//! linker and one host implementation serve every kind.
#![allow(missing_docs)]

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

pub(crate) use decoder::nexus::plugin::host;
pub(crate) use decoder::nexus::plugin::types;
