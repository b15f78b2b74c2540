//! `Schema::extends`: a custom schema for a core topic may only add
//! properties to the standard one.

use super::*;

/// How a custom schema for a core topic fails to only add to the core one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnExtension {
    /// A property of the core schema is missing.
    #[error("property `{0}` of the core schema is missing: a custom schema for a core topic may only add properties")]
    Missing(String),
    /// A property of the core schema is changed (`at`: where, in the schemas).
    #[error("property `{name}` differs from the core schema (at `{at}`): a custom schema for a core topic may only add properties")]
    Changed {
        /// The property.
        name: String,
        /// The JSON pointer of the first difference.
        at: String,
    },
    /// A property the core schema requires is not required.
    #[error("property `{0}` must stay required: the core schema requires it")]
    NotRequired(String),
    /// The root's other constraints (`type`, …) differ.
    #[error("the root of the schema differs from the core schema (at `{0}`)")]
    Root(String),
    /// `additionalProperties` differs where the core constrains it.
    #[error("`additionalProperties` differs from the core schema (at `{0}`)")]
    Additional(String),
}

impl Schema {
    /// Checks that `self`, a custom schema for a core topic, only adds to
    /// `core`: every property of `core` is in `self` with an identical
    /// schema (annotations such as `description` aside), `self` requires at
    /// least what `core` requires, its root keeps `core`'s other constraints
    /// (`type`, ...), and, if `core` constrains undeclared properties
    /// (`additionalProperties`), `self` constrains them the same way.
    ///
    /// The error names the first (by name) property of `core` that `self`
    /// removed or changed, and where it changed.
    pub fn extends(&self, core: &Schema) -> Result<(), NotAnExtension> {
        for (name, core_property) in &core.properties {
            let pointer = child("/properties", name);
            let Some(property) = self.properties.get(name) else {
                return Err(NotAnExtension::Missing(name.clone()));
            };
            if let Some(at) = first_difference(core_property, property, &pointer) {
                return Err(NotAnExtension::Changed { name: name.clone(), at });
            }
        }
        if let Some(name) = core.required.iter().find(|name| !self.required.contains(name)) {
            return Err(NotAnExtension::NotRequired(name.clone()));
        }
        let root = |s: &Schema| Schema { properties: BTreeMap::new(), required: Vec::new(), additional: Additional::Allowed, ..s.clone() };
        if let Some(at) = first_difference(&root(core), &root(self), "") {
            return Err(NotAnExtension::Root(at));
        }
        if !matches!(core.additional, Additional::Allowed)
            && let Some(at) = first_difference(
                &Schema { additional: core.additional.clone(), ..Schema::default() },
                &Schema { additional: self.additional.clone(), ..Schema::default() },
                "",
            )
        {
            return Err(NotAnExtension::Additional(at));
        }
        Ok(())
    }
}

/// The JSON pointer (inside the schemas, from `pointer`) of the first
/// enforced keyword that differs between `a` and `b`; `None` if they enforce
/// the same thing. Annotations are not compiled, so they never differ.
fn first_difference(a: &Schema, b: &Schema, pointer: &str) -> Option<String> {
    let same_set =
        |x: &[Value], y: &[Value]| x.iter().all(|v| y.iter().any(|w| json_eq(v, w))) && y.iter().all(|v| x.iter().any(|w| json_eq(v, w)));
    let same_number = |x: &Option<Number>, y: &Option<Number>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => cmp_numbers(x, y) == Some(Ordering::Equal),
        _ => false,
    };
    let keyword = |k: &str| Some(child(pointer, k));
    if a.types != b.types {
        return keyword("type");
    }
    match (&a.enumeration, &b.enumeration) {
        (None, None) => {}
        (Some(x), Some(y)) if same_set(x, y) => {}
        _ => return keyword("enum"),
    }
    match (&a.constant, &b.constant) {
        (None, None) => {}
        (Some(x), Some(y)) if json_eq(x, y) => {}
        _ => return keyword("const"),
    }
    if !same_number(&a.minimum, &b.minimum) {
        return keyword("minimum");
    }
    if !same_number(&a.maximum, &b.maximum) {
        return keyword("maximum");
    }
    if a.min_length != b.min_length {
        return keyword("minLength");
    }
    if a.max_length != b.max_length {
        return keyword("maxLength");
    }
    if a.required.len() != b.required.len() || a.required.iter().any(|r| !b.required.contains(r)) {
        return keyword("required");
    }
    let properties = child(pointer, "properties");
    if let Some(name) =
        a.properties.keys().chain(b.properties.keys()).filter(|n| !(a.properties.contains_key(*n) && b.properties.contains_key(*n))).min()
    {
        return Some(child(&properties, name));
    }
    for (name, x) in &a.properties {
        if let Some(at) = first_difference(x, &b.properties[name], &child(&properties, name)) {
            return Some(at);
        }
    }
    match (&a.additional, &b.additional) {
        (Additional::Allowed, Additional::Allowed) | (Additional::Forbidden, Additional::Forbidden) => {}
        (Additional::Schema(x), Additional::Schema(y)) => {
            if let Some(at) = first_difference(x, y, &child(pointer, "additionalProperties")) {
                return Some(at);
            }
        }
        _ => return keyword("additionalProperties"),
    }
    match (&a.items, &b.items) {
        (None, None) => None,
        (Some(x), Some(y)) => first_difference(x, y, &child(pointer, "items")),
        _ => keyword("items"),
    }
}
