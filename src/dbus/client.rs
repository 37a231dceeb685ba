//! Method calls as a client (stacctl, the stafd client): one code path for
//! every call. zbus's generated proxies instantiate its whole async call
//! machinery once per method signature (stacctl's two proxies were ~60 KB
//! of the binary); here the arguments travel as one dynamically typed
//! structure and the reply's arguments come back as values, which the
//! caller picks apart.

use zbus::blocking::Connection;
use zbus::zvariant::{OwnedValue, Signature, Structure, StructureBuilder, Value};

/// `org.freedesktop.DBus.Properties` (D-Bus specification).
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// Call `iface.method(args)` of `dest` at `path`; the reply's arguments.
/// D-Bus errors come back as [`zbus::Error::MethodError`], as from a proxy.
pub fn call(
    conn: &Connection,
    dest: &str,
    path: &str,
    iface: &str,
    method: &str,
    args: Vec<Value<'_>>,
) -> zbus::Result<Vec<OwnedValue>> {
    let reply = if args.is_empty() {
        conn.call_method(Some(dest), path, Some(iface), method, &())?
    } else {
        let mut b = StructureBuilder::new();
        for a in args {
            b.push_value(a);
        }
        conn.call_method(Some(dest), path, Some(iface), method, &b.build()?)?
    };
    let body = reply.body();
    if *body.signature() == Signature::Unit {
        return Ok(Vec::new());
    }
    let s: Structure<'_> = body.deserialize()?;
    s.into_fields()
        .into_iter()
        .map(|v| v.try_into_owned().map_err(zbus::Error::from))
        .collect()
}

/// Read the property `iface.name` (uncached).
pub fn get_property(
    conn: &Connection,
    dest: &str,
    path: &str,
    iface: &str,
    name: &str,
) -> zbus::Result<OwnedValue> {
    let args = vec![Value::from(iface), Value::from(name)];
    call(conn, dest, path, PROPERTIES, "Get", args)?
        .into_iter()
        .next()
        .ok_or_else(|| zbus::Error::Failure("Properties.Get: empty reply".into()))
}

/// Write the property `iface.name`.
pub fn set_property(
    conn: &Connection,
    dest: &str,
    path: &str,
    iface: &str,
    name: &str,
    value: Value<'_>,
) -> zbus::Result<()> {
    let args = vec![
        Value::from(iface),
        Value::from(name),
        Value::Value(Box::new(value)),
    ];
    call(conn, dest, path, PROPERTIES, "Set", args).map(drop)
}

/// The value inside any number of variants.
pub fn unwrap_variant<'a>(v: &'a Value<'a>) -> &'a Value<'a> {
    match v {
        Value::Value(inner) => unwrap_variant(inner),
        v => v,
    }
}

/// A string argument.
pub fn text(v: &Value<'_>) -> Option<String> {
    match unwrap_variant(v) {
        Value::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

/// A boolean argument.
pub fn boolean(v: &Value<'_>) -> Option<bool> {
    match unwrap_variant(v) {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}
