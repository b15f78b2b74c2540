//! `Schema::extends`: a custom schema for a core topic may only add
//! properties to the standard one.

use super::*;

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
    pub fn extends(&self, core: &Schema) -> Result<(), String> {
        const ONLY_ADD: &str = "a custom schema for a core topic may only add properties";
        for (name, core_property) in &core.properties {
            let pointer = child("/properties", name);
            let Some(property) = self.properties.get(name) else {
                return Err(format!("property `{name}` of the core schema is missing: {ONLY_ADD}"));
            };
            if let Some(at) = first_difference(core_property, property, &pointer) {
                return Err(format!("property `{name}` differs from the core schema (at `{at}`): {ONLY_ADD}"));
            }
        }
        if let Some(name) = core.required.iter().find(|name| !self.required.contains(name)) {
            return Err(format!("property `{name}` must stay required: the core schema requires it"));
        }
        let root = |s: &Schema| Schema { properties: BTreeMap::new(), required: Vec::new(), additional: Additional::Allowed, ..s.clone() };
        if let Some(at) = first_difference(&root(core), &root(self), "") {
            return Err(format!("the root of the schema differs from the core schema (at `{at}`)"));
        }
        if !matches!(core.additional, Additional::Allowed)
            && let Some(at) = first_difference(
                &Schema { additional: core.additional.clone(), ..Schema::default() },
                &Schema { additional: self.additional.clone(), ..Schema::default() },
                "",
            )
        {
            return Err(format!("`additionalProperties` differs from the core schema (at `{at}`)"));
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
