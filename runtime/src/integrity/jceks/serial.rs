//! The subset of Java object serialization (the `java.io.ObjectOutputStream`
//! stream protocol, version 5) that a JCEKS keystore's secret key entries
//! use: plain serializable objects with primitive, string and array fields,
//! class descriptors and back references.
//!
//! A secret key entry is a `com.sun.crypto.provider.SealedObjectForKeyProtector`
//! (a `javax.crypto.SealedObject` with the fields `encodedParams`,
//! `encryptedContent`, `paramsAlg`, `sealAlg`); once decrypted, its content is
//! itself a serialized `javax.crypto.spec.SecretKeySpec` (`algorithm`, `key`)
//! or a `java.security.KeyRep` (`algorithm`, `encoded`, …).
//!
//! Nothing here loads or runs any class: the stream is read as data into
//! [`Value`]s. Proxy classes, externalizable objects and object arrays are
//! refused (no keystore entry uses them). Every length is checked against
//! what is left of the input before anything is allocated, so a corrupt
//! stream gives an error, never a huge allocation or a panic.

/// A value read from the stream.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// `null`.
    Null,
    /// A primitive field's value (not needed by any keystore entry: kept
    /// only as a placeholder).
    Primitive,
    /// A string.
    Str(String),
    /// A `byte[]`.
    Bytes(Vec<u8>),
    /// An array of another primitive type (skipped).
    OtherArray,
    /// An enum constant's name.
    Enum(String),
    /// An object: its class name and its serializable fields, superclass
    /// fields first.
    Object {
        /// The class name.
        class: String,
        /// The fields, by name.
        fields: Vec<(String, Value)>,
    },
}

impl Value {
    /// The field `name` of an object (`None` for anything else).
    pub(super) fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object { fields, .. } => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

const STREAM_MAGIC: u16 = 0xaced;
const STREAM_VERSION: u16 = 5;
const TC_NULL: u8 = 0x70;
const TC_REFERENCE: u8 = 0x71;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_STRING: u8 = 0x74;
const TC_ARRAY: u8 = 0x75;
const TC_BLOCKDATA: u8 = 0x77;
const TC_ENDBLOCKDATA: u8 = 0x78;
const TC_LONGSTRING: u8 = 0x7c;
const TC_BLOCKDATALONG: u8 = 0x7a;
const TC_ENUM: u8 = 0x7e;
const BASE_HANDLE: u32 = 0x7e_0000;
const SC_WRITE_METHOD: u8 = 0x01;
const SC_SERIALIZABLE: u8 = 0x02;
const SC_EXTERNALIZABLE: u8 = 0x04;
/// Nesting deeper than this is refused (keystore objects nest two deep).
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone)]
struct ClassDesc {
    name: String,
    flags: u8,
    /// (type code, name)
    fields: Vec<(u8, String)>,
    superclass: Option<std::rc::Rc<ClassDesc>>,
}

#[derive(Debug, Clone)]
enum Handle {
    Desc(std::rc::Rc<ClassDesc>),
    Value(Value),
}

/// A reader over one serialized stream.
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    handles: Vec<Handle>,
    depth: usize,
}

/// Reads one object stream (magic, version, one top-level object) from the
/// start of `data`; returns the object and the number of bytes it took.
pub(super) fn read_stream(data: &[u8]) -> Result<(Value, usize), String> {
    let mut r = Reader { data, pos: 0, handles: Vec::new(), depth: 0 };
    if r.u16()? != STREAM_MAGIC {
        return Err("not a Java serialization stream (magic is not 0xaced)".into());
    }
    let version = r.u16()?;
    if version != STREAM_VERSION {
        return Err(format!("Java serialization stream version {version}, expected 5"));
    }
    let tc = r.u8()?;
    let value = r.content(tc)?;
    Ok((value, r.pos))
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.data.len() - self.pos < n {
            return Err(format!("serialized object truncated at byte {}", self.pos));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    /// A `writeUTF` string (modified UTF-8, read leniently as UTF-8).
    fn utf(&mut self) -> Result<String, String> {
        let n = usize::from(self.u16()?);
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn long_utf(&mut self) -> Result<String, String> {
        let n = usize::try_from(self.u64()?).map_err(|_| "string too long".to_string())?;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn new_handle(&mut self, h: Handle) -> usize {
        self.handles.push(h);
        self.handles.len() - 1
    }
    fn reference(&mut self) -> Result<Handle, String> {
        let h = self.u32()?;
        h.checked_sub(BASE_HANDLE)
            .and_then(|i| self.handles.get(i as usize))
            .cloned()
            .ok_or_else(|| format!("back reference {h:#x} to nothing"))
    }

    /// One content item whose type code `tc` has been read.
    fn content(&mut self, tc: u8) -> Result<Value, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("serialized object nested too deeply".into());
        }
        let v = self.content_inner(tc);
        self.depth -= 1;
        v
    }

    fn content_inner(&mut self, tc: u8) -> Result<Value, String> {
        match tc {
            TC_NULL => Ok(Value::Null),
            TC_REFERENCE => match self.reference()? {
                Handle::Value(v) => Ok(v),
                Handle::Desc(_) => Err("a reference to a class where a value belongs".into()),
            },
            TC_STRING | TC_LONGSTRING => {
                let s = if tc == TC_STRING { self.utf()? } else { self.long_utf()? };
                self.new_handle(Handle::Value(Value::Str(s.clone())));
                Ok(Value::Str(s))
            }
            TC_ARRAY => {
                let desc = self.class_desc()?.ok_or("an array without a class")?;
                let slot = self.new_handle(Handle::Value(Value::Null));
                let n = self.u32()? as usize;
                let elem = match desc.name.as_bytes() {
                    [b'[', t] => elem_size(*t).ok_or_else(|| format!("array type {}", desc.name))?,
                    _ => return Err(format!("unsupported array type {}", desc.name)),
                };
                let bytes = self.take(n.checked_mul(elem).ok_or("array too long")?)?.to_vec();
                let v = if desc.name == "[B" { Value::Bytes(bytes) } else { Value::OtherArray };
                self.handles[slot] = Handle::Value(v.clone());
                Ok(v)
            }
            TC_ENUM => {
                self.class_desc()?.ok_or("an enum without a class")?;
                let slot = self.new_handle(Handle::Value(Value::Null));
                let name = match self.u8()? {
                    t @ (TC_STRING | TC_LONGSTRING | TC_REFERENCE) => self.content(t)?,
                    t => return Err(format!("enum constant name of type {t:#x}")),
                };
                let Value::Str(name) = name else {
                    return Err("enum constant name is not a string".into());
                };
                let v = Value::Enum(name);
                self.handles[slot] = Handle::Value(v.clone());
                Ok(v)
            }
            TC_OBJECT => self.object(),
            t => Err(format!("unsupported serialization type code {t:#x} at byte {}", self.pos - 1)),
        }
    }

    /// `classDesc`: a new descriptor, a reference to one, or `null`.
    fn class_desc(&mut self) -> Result<Option<std::rc::Rc<ClassDesc>>, String> {
        match self.u8()? {
            TC_NULL => Ok(None),
            TC_REFERENCE => match self.reference()? {
                Handle::Desc(d) => Ok(Some(d)),
                Handle::Value(_) => Err("a reference to a value where a class belongs".into()),
            },
            TC_CLASSDESC => {
                let slot = self.new_handle(Handle::Value(Value::Null));
                let name = self.utf()?;
                let _serial_version_uid = self.u64()?;
                let flags = self.u8()?;
                let count = self.u16()?;
                let mut fields = Vec::new();
                for _ in 0..count {
                    let t = self.u8()?;
                    let fname = self.utf()?;
                    if t == b'[' || t == b'L' {
                        let tc = self.u8()?;
                        if !matches!(tc, TC_STRING | TC_LONGSTRING | TC_REFERENCE) {
                            return Err(format!("field {fname}: type name of type {tc:#x}"));
                        }
                        self.content(tc)?;
                    } else if elem_size(t).is_none() {
                        return Err(format!("field {fname}: unknown type code {t:#x}"));
                    }
                    fields.push((t, fname));
                }
                self.skip_annotation()?;
                let superclass = self.class_desc()?;
                let desc = std::rc::Rc::new(ClassDesc { name, flags, fields, superclass });
                self.handles[slot] = Handle::Desc(desc.clone());
                Ok(Some(desc))
            }
            t => Err(format!("unsupported class descriptor type code {t:#x}")),
        }
    }

    /// Block data and objects up to `TC_ENDBLOCKDATA` (class annotations and
    /// what a `writeObject` method wrote), skipped.
    fn skip_annotation(&mut self) -> Result<(), String> {
        loop {
            match self.u8()? {
                TC_ENDBLOCKDATA => return Ok(()),
                TC_BLOCKDATA => {
                    let n = usize::from(self.u8()?);
                    self.take(n)?;
                }
                TC_BLOCKDATALONG => {
                    let n = self.u32()? as usize;
                    self.take(n)?;
                }
                tc => {
                    self.content(tc)?;
                }
            }
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        let desc = self.class_desc()?.ok_or("an object without a class")?;
        let slot = self.new_handle(Handle::Value(Value::Null));
        let mut chain = Vec::new();
        let mut d = Some(desc.clone());
        while let Some(c) = d {
            d = c.superclass.clone();
            chain.push(c);
        }
        let mut fields = Vec::new();
        for c in chain.iter().rev() {
            if c.flags & SC_EXTERNALIZABLE != 0 {
                return Err(format!("externalizable class {} is not supported", c.name));
            }
            if c.flags & SC_SERIALIZABLE == 0 {
                continue;
            }
            for (t, name) in &c.fields {
                let v = if *t == b'[' || *t == b'L' {
                    let tc = self.u8()?;
                    self.content(tc)?
                } else {
                    self.take(elem_size(*t).expect("checked in class_desc"))?;
                    Value::Primitive
                };
                fields.push((name.clone(), v));
            }
            if c.flags & SC_WRITE_METHOD != 0 {
                self.skip_annotation()?;
            }
        }
        let v = Value::Object { class: desc.name.clone(), fields };
        self.handles[slot] = Handle::Value(v.clone());
        Ok(v)
    }
}

/// The size of a primitive of type code `t`.
fn elem_size(t: u8) -> Option<usize> {
    match t {
        b'B' | b'Z' => Some(1),
        b'C' | b'S' => Some(2),
        b'I' | b'F' => Some(4),
        b'J' | b'D' => Some(8),
        _ => None,
    }
}
