//! NVMe Boot Firmware Table (ACPI signature `NBFT`) decoding.
