//! A small INI reader with nvme-stas's rules (stacd-spec.md §2.1): `[Section]`
//! names are case-sensitive, keys are folded to lower case, only `=`
//! separates key and value (first `=` only), full-line `#`/`;` comments, an
//! indented line continues the previous key as an additional value, repeated
//! keys and sections are kept in file order. DESIGN.md adds inline comments:
//! ` #...` after white space.
