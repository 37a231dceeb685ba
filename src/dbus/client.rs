//! Method calls as a client (stacctl, the stafd client): one code path for
//! every call. zbus's generated proxies instantiate its whole async call
//! machinery once per method signature (stacctl's two proxies were ~60 KB
//! of the binary); here the arguments travel as one dynamically typed
//! structure and the reply's body comes back, whose arguments [`args`]
//! reads as values for the caller to pick apart.

use zbus::blocking::Connection;
use zbus::export::serde::{Serialize, Serializer};
use zbus::message::Body;
use zbus::zvariant::{DynamicType, Signature, Structure, StructureBuilder, Value};

/// `org.freedesktop.DBus.Properties` (D-Bus specification).
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// Call `iface.method(args)` of `dest` at `path`; the reply's body. D-Bus
/// errors come back as [`zbus::Error::MethodError`], as from a proxy.
pub fn call(
    conn: &Connection,
    dest: &str,
    path: &str,
    iface: &str,
    method: &str,
    args: Vec<Value<'_>>,
) -> zbus::Result<Body> {
    let body = if args.is_empty() {
        Args(None)
    } else {
        let mut b = StructureBuilder::new();
        for a in args {
            b.push_value(a);
        }
        Args(Some(b.build()?))
    };
    let reply = conn.call_method(Some(dest), path, Some(iface), method, &body)?;
    Ok(reply.body())
}

/// The arguments of a message body (a reply's, a signal's); none when it
/// has none or cannot be read.
pub fn args(body: &Body) -> Vec<Value<'_>> {
    if *body.signature() == Signature::Unit {
        return Vec::new();
    }
    body.deserialize::<Structure<'_>>()
        .map(Structure::into_fields)
        .unwrap_or_default()
}

/// A call's arguments: a structure, or none (as `()`). One type for both,
/// so zbus's call path is instantiated once.
struct Args<'a>(Option<Structure<'a>>);

impl DynamicType for Args<'_> {
    fn signature(&self) -> Signature {
        self.0
            .as_ref()
            .map_or(Signature::Unit, DynamicType::signature)
    }
}

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(args) => args.serialize(s),
            None => s.serialize_unit(),
        }
    }
}

/// Read the property `iface.name` (uncached): the reply, whose one
/// argument is the value.
pub fn get_property(
    conn: &Connection,
    dest: &str,
    path: &str,
    iface: &str,
    name: &str,
) -> zbus::Result<Body> {
    let args = vec![Value::from(iface), Value::from(name)];
    call(conn, dest, path, PROPERTIES, "Get", args)
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
