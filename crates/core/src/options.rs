//! Helpers for reading component options the way Collector files write them.

use serde::{Deserialize, Deserializer};

/// Deserialises `T`, treating a bare component key (`batch:`, YAML null) as all defaults.
pub fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// For an optional section: absent is `None`; present, even with no value (`batch:`), is
/// `Some` with defaults filled in.
pub fn present_means_enabled<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(deserializer)?.unwrap_or_default()))
}
