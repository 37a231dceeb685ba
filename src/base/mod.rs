//! What every layer uses and that knows nothing of NVMe-oF: the root seam
//! and the host's paths ([`root`]), safe reads and atomic writes of files
//! ([`files`]), the JSON reader/writer for outside text ([`json`]), logging
//! ([`logging`]) and `sd_notify` ([`notify`]).

pub mod files;
pub mod json;
pub mod logging;
pub mod notify;
pub mod root;
