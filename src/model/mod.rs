//! The lowest types, which depend on nothing above them: a controller's
//! identity ([`identity`]), its connect parameters and option string
//! ([`params`]) and a DH-HMAC-CHAP key that never prints ([`secret`]).

pub mod identity;
pub mod params;
pub mod secret;
