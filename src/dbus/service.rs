//! The object `/org/nvmexpress/stac` and its two interfaces (docs/design.md
//! §6): `org.nvmexpress.stac` (list_controllers) and
//! `org.nvmexpress.stac.debug` (tron, log_level, process_info,
//! controller_info), and the introspection document `--idl` writes (§6.3).
//!
//! Handlers run on zbus's executor thread. They only read the last
//! [`View`](super::view::View) the loop published and post events to the
//! loop (setting `tron`); they never wait for the loop, never touch the
//! kernel and never make a D-Bus call (a blocking call inside a handler
//! freezes the object server, docs/design.md §C1). Every member carries
//! `#[zbus(name = ...)]`: zbus would otherwise publish `ListControllers`.
//! stacd emits no signals, so the properties do not announce changes.
//!
//! `introspection_docs = false` on both interfaces: zbus otherwise copies
//! the doc comments below into the XML as `<!-- -->` comments, and a doc
//! comment with `--` in it (`--tron`) makes the document not well-formed
//! (XML 1.0 §2.5 forbids `--` inside a comment). Lenient readers (busctl,
//! gdbus) shrug; Python's expat, which nvme-stas's stacctl uses through
//! dasbus, rejects the whole reply. The original's document has no
//! comments either (docs/dbus.md, "Introspection").

use super::view::{self, Lookup};
use super::{Event, Post, Shared};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use zbus::object_server::Interface;

pub const NAME: &str = "org.nvmexpress.stac";
pub const PATH: &str = "/org/nvmexpress/stac";
pub const IFACE: &str = "org.nvmexpress.stac";
pub const IFACE_DEBUG: &str = "org.nvmexpress.stac.debug";

/// `org.nvmexpress.stac`.
#[derive(Debug)]
pub struct Stac {
    pub(super) shared: Arc<Shared>,
}

#[zbus::interface(name = "org.nvmexpress.stac", introspection_docs = false)]
impl Stac {
    /// One string map per controller (§6.2).
    #[zbus(name = "list_controllers", out_args("controller_list"))]
    fn list_controllers(&self, detailed: bool) -> Vec<BTreeMap<String, String>> {
        view::list_controllers(&self.shared.view(), detailed, Instant::now())
    }
}

/// `org.nvmexpress.stac.debug`.
#[derive(Debug)]
pub struct Debug {
    pub(super) shared: Arc<Shared>,
    /// Where a written `tron` goes; `None` for `--idl` (no loop).
    pub(super) post: Option<Post>,
}

#[zbus::interface(name = "org.nvmexpress.stac.debug", introspection_docs = false)]
impl Debug {
    /// Trace on (DEBUG level). Writing it applies at once; the next SIGHUP
    /// resets it to the file's `tron`; `--tron` keeps it on (docs/design.md D15).
    #[zbus(property(emits_changed_signal = "false"), name = "tron")]
    fn tron(&self) -> bool {
        self.shared.tron()
    }

    #[zbus(property, name = "tron")]
    fn set_tron(&mut self, value: bool) {
        // Answer a read-back at once; the loop applies it to the logger.
        self.shared.set_tron(value);
        if let Some(p) = &self.post {
            p.send(Event::Tron(value));
        }
    }

    /// `DEBUG` or `INFO`.
    #[zbus(property(emits_changed_signal = "false"), name = "log_level")]
    fn log_level(&self) -> String {
        if self.shared.tron() { "DEBUG" } else { "INFO" }.to_string()
    }

    /// The daemon's state as a JSON object (§6.2).
    #[zbus(name = "process_info", out_args("info_json"))]
    fn process_info(&self) -> String {
        view::process_info(
            &self.shared.view(),
            self.shared.tron(),
            self.shared.soak(),
            Instant::now(),
        )
    }

    /// One controller's state as a JSON object; `{}` if there is none.
    #[allow(clippy::too_many_arguments)]
    #[zbus(name = "controller_info", out_args("info_json"))]
    fn controller_info(
        &self,
        transport: &str,
        traddr: &str,
        trsvcid: &str,
        subsysnqn: &str,
        host_traddr: &str,
        host_iface: &str,
        host_nqn: &str,
    ) -> String {
        let a = Lookup {
            transport,
            traddr,
            trsvcid,
            subsysnqn,
            host_traddr,
            host_iface,
            host_nqn,
        };
        view::controller_info(&self.shared.view(), &a, Instant::now())
    }
}

/// The introspection document of the object's two interfaces (§6.3), as
/// `--idl FILE` writes it.
pub fn idl() -> String {
    let shared = Arc::new(Shared::default());
    let mut x = String::from(
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<node>\n",
    );
    Debug {
        shared: shared.clone(),
        post: None,
    }
    .introspect_to_writer(&mut x, 2);
    Stac { shared }.introspect_to_writer(&mut x, 2);
    x.push_str("</node>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idl_names_every_member_as_the_original() {
        let x = idl();
        for want in [
            r#"<interface name="org.nvmexpress.stac.debug">"#,
            r#"<interface name="org.nvmexpress.stac">"#,
            r#"<method name="list_controllers">"#,
            r#"<arg name="detailed" type="b" direction="in"/>"#,
            r#"<arg name="controller_list" type="aa{ss}" direction="out"/>"#,
            r#"<method name="process_info">"#,
            r#"<arg name="info_json" type="s" direction="out"/>"#,
            r#"<method name="controller_info">"#,
            r#"<property name="tron" type="b" access="readwrite">"#,
            r#"<property name="log_level" type="s" access="read">"#,
        ] {
            assert!(x.contains(want), "{want} not in\n{x}");
        }
        // In-arguments of controller_info, in order.
        let args: Vec<&str> = x
            .split("<method name=\"controller_info\">")
            .nth(1)
            .unwrap()
            .split("</method>")
            .next()
            .unwrap()
            .lines()
            .filter(|l| l.contains("direction=\"in\""))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        assert_eq!(
            args,
            [
                "transport",
                "traddr",
                "trsvcid",
                "subsysnqn",
                "host_traddr",
                "host_iface",
                "host_nqn"
            ]
        );
        assert!(!x.contains("ListControllers") && !x.contains("ProcessInfo"));
        assert!(x.starts_with("<!DOCTYPE node") && x.ends_with("</node>\n"));
        // No comments at all: a doc comment must not reach the XML (a `--`
        // in one breaks strict parsers; tests/dbus.rs parses it with one).
        assert!(!x.contains("<!--"), "{x}");
    }
}
