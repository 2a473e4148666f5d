//! The input of a Query-protocol call: its form parameters, decoded once.

/// Decoded form parameters, in order.
pub struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Name.member.1`, `Name.member.2`, ... in index order. An empty list
    /// is sent as `Name=` by botocore.
    pub fn list(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}.member.");
        let mut items: Vec<(u32, String)> = self
            .0
            .iter()
            .filter_map(|(k, v)| {
                let index = k.strip_prefix(&prefix)?.parse().ok()?;
                Some((index, v.clone()))
            })
            .collect();
        items.sort_by_key(|(i, _)| *i);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// `Name.member.N.<members>`: one parameter set per N, in index order,
    /// with the `Name.member.N.` prefix removed (lists of structures such
    /// as `PolicyArns.member.1.arn` or `ContextEntries.member.1.ContextKeyName`).
    pub fn structs(&self, name: &str) -> Vec<Params> {
        let prefix = format!("{name}.member.");
        let mut items: std::collections::BTreeMap<u32, Vec<(String, String)>> =
            std::collections::BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            let Some((index, member)) = rest.split_once('.') else {
                continue;
            };
            let Ok(index) = index.parse::<u32>() else {
                continue;
            };
            items
                .entry(index)
                .or_default()
                .push((member.to_string(), v.clone()));
        }
        items.into_values().map(Params).collect()
    }
}
