//! Floor baseline: the structural change of a conversion and nothing else (`moved.rs`).
//! policy-server turns every mutation into a JSONPatch, so this is the least a converting policy
//! costs there.

#[path = "../../guest.rs"]
mod guest_entry;

mod moved;

use moved::validate;
