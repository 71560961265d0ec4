//! Every fuzz target by name: the engine binaries and the regression replays both go through this table,
//! so a target cannot exist for one and not the other.

/// One fuzz target: its name (the engine binary's and the corpus and regression folders') and its body.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Arbitrary bytes as a bundle file, end to end through every output.
pub fn bundle_bytes(data: &[u8]) {
    std::hint::black_box(crate::bundle::analyze_bytes(data));
}

/// Edits of the shipped sample bundles (see [`crate::mutate`]), end to end through every output.
pub fn bundle_edit(data: &[u8]) {
    if let Some(bytes) = crate::mutate::edited_bundle(data) {
        std::hint::black_box(crate::bundle::analyze_bytes(&bytes));
    }
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "bundle_bytes",
        run: bundle_bytes,
    },
    Target {
        name: "bundle_edit",
        run: bundle_edit,
    },
    Target {
        name: "records",
        run: crate::parsers::records,
    },
    Target {
        name: "elf",
        run: crate::parsers::elf,
    },
    Target {
        name: "cron",
        run: crate::parsers::cron,
    },
    Target {
        name: "systemd_unit",
        run: crate::parsers::systemd_unit,
    },
    Target {
        name: "authorized_keys",
        run: crate::parsers::authorized_keys,
    },
    Target {
        name: "sshd_config",
        run: crate::parsers::sshd_config,
    },
    Target {
        name: "shell_line",
        run: crate::parsers::shell_line,
    },
    Target {
        name: "sudoers",
        run: crate::parsers::sudoers,
    },
    Target {
        name: "passwd",
        run: crate::parsers::passwd,
    },
    Target {
        name: "iptables",
        run: crate::parsers::iptables,
    },
    Target {
        name: "auth_log",
        run: crate::parsers::auth_log,
    },
    Target {
        name: "journal",
        run: crate::parsers::journal,
    },
    Target {
        name: "rpmdb",
        run: crate::parsers::rpmdb,
    },
    Target {
        name: "proc_text",
        run: crate::parsers::proc_text,
    },
];

/// The target called `name`.
pub fn by_name(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
