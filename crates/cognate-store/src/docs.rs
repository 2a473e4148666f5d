//! JSON documents in text columns.

use cognate_core::store::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub fn to_doc<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding a record: {e}")))
}

pub fn from_doc<T: DeserializeOwned>(doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Backend(format!("decoding a record: {e}")))
}
