//! `stacctl` (docs/design.md §7): the same binary called by that name (a
//! link made by install). Talks to `org.nvmexpress.stac` on the system bus
//! (`DBUS_SYSTEM_BUS_ADDRESS` overrides where) — ours or the original.
//!
//! Subcommands, exit codes and messages are the original's. One deliberate
//! difference: `ls` and `status` print JSON (two-space indent, keys
//! sorted) where the original prints Python's `pprint` of the same data
//! (width 120, sorted keys, single-quoted dict literals); JSON is what a
//! script can read.

use super::client;
use crate::app::exit;
use crate::base::json::{self, Json};
use std::time::Duration;
use zbus::blocking::Connection;
use zbus::message::Body;
use zbus::zvariant::Value;

const USAGE: &str = "usage: stacctl [-h] [-v] {tron,troff,status,ls} ...";
const HELP: &str = "usage: stacctl [-h] [-v] {tron,troff,status,ls} ...

STorage Appliance Connector (STAC) utility program

positional arguments:
  {tron,troff,status,ls}
                        Commands
    tron                Trace ON
    troff               Trace OFF
    status              Show runtime status information about stacd
    ls                  Show list of I/O controllers

options:
  -h, --help            show this help message and exit
  -v, --version         print version, then exit

Output of ls and status is JSON (nvme-stas prints Python literals).
";
const LS_HELP: &str = "usage: stacctl ls [-h] [-d]

options:
  -h, --help      show this help message and exit
  -d, --detailed  Print detailed info (default: \"False\")
";
const NO_STACD: &str = "Unable to communicate with stacd over D-Bus. Is stacd running?";

const NAME: &str = "org.nvmexpress.stac";
const PATH: &str = "/org/nvmexpress/stac";
const IFACE: &str = "org.nvmexpress.stac";
const DEBUG: &str = "org.nvmexpress.stac.debug";

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Tron(bool),
    Status,
    Ls { detailed: bool },
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    Run(Cmd),
    /// Nothing to run: the help or version (exit 0), the bare usage line
    /// (no command: stdout, 1) or a usage error (stderr, 2) was printed,
    /// as argparse does for the original; end with this code.
    Done(u8),
}

/// Why a command could not be carried out.
#[derive(Debug)]
pub enum CtlError {
    /// The bus could not be reached, or a call or property failed.
    Bus(zbus::Error),
    /// stacd answered, but not what its interface says (named in the text).
    Reply(String),
}

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CtlError::Bus(e) => e.fmt(f),
            CtlError::Reply(why) => f.write_str(why),
        }
    }
}

impl From<zbus::Error> for CtlError {
    fn from(e: zbus::Error) -> CtlError {
        CtlError::Bus(e)
    }
}

/// Parse argv (without the program name).
pub fn parse(args: &[String]) -> Parsed {
    let bad = |msg: String| {
        crate::say_err!("{USAGE}\nstacctl: error: {msg}");
        Parsed::Done(exit::USAGE)
    };
    let mut it = args.iter().map(String::as_str);
    let cmd = match it.next() {
        None => {
            crate::say!("{USAGE}");
            return Parsed::Done(exit::RUNTIME);
        }
        Some("-h" | "--help") => {
            crate::say_raw!("{HELP}");
            return Parsed::Done(exit::OK);
        }
        Some("-v" | "--version") => {
            crate::say!("stacctl {}", crate::VERSION);
            return Parsed::Done(exit::OK);
        }
        Some(c) => c,
    };
    let rest: Vec<&str> = it.collect();
    match cmd {
        "tron" | "troff" | "status" => match rest.first() {
            Some(&"-h" | &"--help") => {
                crate::say!("usage: stacctl {cmd} [-h]");
                Parsed::Done(exit::OK)
            }
            Some(x) => bad(format!("unrecognized arguments: {x}")),
            None if cmd == "status" => Parsed::Run(Cmd::Status),
            None => Parsed::Run(Cmd::Tron(cmd == "tron")),
        },
        "ls" => {
            let mut detailed = false;
            for a in rest {
                match a {
                    "-d" | "--detailed" => detailed = true,
                    "-h" | "--help" => {
                        crate::say_raw!("{LS_HELP}");
                        return Parsed::Done(exit::OK);
                    }
                    x => return bad(format!("unrecognized arguments: {x}")),
                }
            }
            Parsed::Run(Cmd::Ls { detailed })
        }
        c => bad(format!(
            "argument command: invalid choice: '{c}' (choose from 'tron', 'troff', 'status', 'ls')"
        )),
    }
}

/// `list_controllers(detailed)`: an array of string-to-string dicts
/// (`aa{ss}`), each as its members in the order received.
fn list_controllers(conn: &Connection, detailed: bool) -> Result<Vec<Members>, CtlError> {
    let reply = client::call(
        conn,
        NAME,
        PATH,
        IFACE,
        "list_controllers",
        vec![detailed.into()],
    )?;
    let bad = || CtlError::Reply("list_controllers returned an unexpected type".into());
    let args = client::args(&reply);
    let Some(Value::Array(a)) = args.first().map(|v| client::unwrap_variant(v)) else {
        return Err(bad());
    };
    let mut out = Vec::new();
    for c in a.inner() {
        let Value::Dict(d) = c else {
            return Err(bad());
        };
        let mut m = Members::new();
        for (k, v) in d.iter() {
            m.push((
                client::text(k).ok_or_else(bad)?,
                client::text(v).ok_or_else(bad)?,
            ));
        }
        out.push(m);
    }
    Ok(out)
}

/// One controller of `list_controllers`.
type Members = Vec<(String, String)>;

fn obj_of(m: Members) -> Json {
    Json::Obj(m.into_iter().map(|(k, v)| (k, Json::Str(v))).collect())
}

/// The one string a method returns.
fn text_reply(r: zbus::Result<Body>, what: &str) -> Result<String, CtlError> {
    let r = r?;
    client::args(&r)
        .first()
        .and_then(|v| client::text(v))
        .ok_or_else(|| CtlError::Reply(format!("{what} returned an unexpected type")))
}

/// Carry out `cmd`, returning what to print.
pub fn execute(cmd: Cmd) -> Result<String, CtlError> {
    // The same bus stacd uses: DBUS_SYSTEM_BUS_ADDRESS, else
    // /run/dbus/system_bus_socket (zbus's default, /var/run/..., is missing
    // where /var/run is not a link to /run, e.g. an initramfs).
    let addr = super::Address::system(&crate::base::root::Root::from_env()).addr;
    let conn = zbus::blocking::connection::Builder::address(addr.as_str())
        .map(|b| b.method_timeout(Duration::from_secs(30)))
        .and_then(|b| b.build())?;
    match cmd {
        Cmd::Tron(on) => {
            client::set_property(&conn, NAME, PATH, DEBUG, "tron", on.into())?;
            let now = client::get_property(&conn, NAME, PATH, DEBUG, "tron")?;
            let now = client::args(&now).first().and_then(|v| client::boolean(v));
            let now = now.ok_or_else(|| CtlError::Reply("tron is not a boolean".into()))?;
            Ok(format!("tron = {}", if now { "True" } else { "False" }))
        }
        Cmd::Ls { detailed } => {
            let l = list_controllers(&conn, detailed)?;
            Ok(json::to_pretty_sorted(&Json::Arr(
                l.into_iter().map(obj_of).collect(),
            )))
        }
        Cmd::Status => {
            let info = client::call(&conn, NAME, PATH, DEBUG, "process_info", Vec::new());
            let info = text_reply(info, "process_info")?;
            let Json::Obj(mut top) = json::parse(&info)
                .map_err(|x| CtlError::Reply(format!("process_info returned bad JSON: {x}")))?
            else {
                return Err(CtlError::Reply(
                    "process_info did not return a JSON object".into(),
                ));
            };
            let mut ctrls = Vec::new();
            for c in list_controllers(&conn, true)? {
                let g = |k: &str| {
                    let v = c
                        .iter()
                        .find(|(n, _)| n == k)
                        .map_or("", |(_, v)| v.as_str());
                    Value::from(v.to_string())
                };
                // The identity, in controller_info's argument order.
                let args = [
                    "transport",
                    "traddr",
                    "trsvcid",
                    "subsysnqn",
                    "host-traddr",
                    "host-iface",
                    "host-nqn",
                ];
                let args = args.into_iter().map(g).collect();
                let more = client::call(&conn, NAME, PATH, DEBUG, "controller_info", args);
                let more = text_reply(more, "controller_info")?;
                let mut m: Vec<(String, Json)> =
                    c.into_iter().map(|(k, v)| (k, Json::Str(v))).collect();
                if let Ok(Json::Obj(extra)) = json::parse(&more) {
                    for (k, v) in extra {
                        match m.iter_mut().find(|(mk, _)| *mk == k) {
                            Some(slot) => slot.1 = v,
                            None => m.push((k, v)),
                        }
                    }
                }
                ctrls.push(Json::Obj(m));
            }
            top.retain(|(k, _)| k != "controllers");
            top.push(("controllers".into(), Json::Arr(ctrls)));
            Ok(json::to_pretty_sorted(&Json::Obj(top)))
        }
    }
}

/// stacctl's `main`.
pub fn main(args: &[String]) -> u8 {
    let cmd = match parse(args) {
        Parsed::Run(c) => c,
        Parsed::Done(code) => return code,
    };
    match execute(cmd) {
        Ok(out) => {
            crate::say!("{out}");
            exit::OK
        }
        Err(why) => {
            crate::say_err!("{NO_STACD}\nstacctl: {why}");
            exit::RUNTIME
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Parsed {
        parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn subcommands_and_exit_codes() {
        assert_eq!(p(&["tron"]), Parsed::Run(Cmd::Tron(true)));
        assert_eq!(p(&["troff"]), Parsed::Run(Cmd::Tron(false)));
        assert_eq!(p(&["status"]), Parsed::Run(Cmd::Status));
        assert_eq!(p(&["ls"]), Parsed::Run(Cmd::Ls { detailed: false }));
        assert_eq!(p(&["ls", "-d"]), Parsed::Run(Cmd::Ls { detailed: true }));
        assert_eq!(
            p(&["ls", "--detailed"]),
            Parsed::Run(Cmd::Ls { detailed: true })
        );
        assert_eq!(p(&[]), Parsed::Done(exit::RUNTIME));
        assert_eq!(p(&["-h"]), Parsed::Done(exit::OK));
        assert_eq!(p(&["--version"]), Parsed::Done(exit::OK));
        assert_eq!(p(&["bogus"]), Parsed::Done(exit::USAGE));
        assert_eq!(p(&["ls", "-x"]), Parsed::Done(exit::USAGE));
        assert_eq!(p(&["tron", "extra"]), Parsed::Done(exit::USAGE));
        assert_eq!(p(&["--bogus"]), Parsed::Done(exit::USAGE));
    }
}
