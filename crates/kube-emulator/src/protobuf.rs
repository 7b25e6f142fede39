//! Protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`), decoded into
//! the JSON the rest of the handler takes. `kubectl`'s typed commands (`create namespace`,
//! `create secret`, `create token`, `auth can-i`, ...) send their bodies this way.
//!
//! The wire form is the one of
//! `staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go`: the magic
//! `k8s\0`, then a `runtime.Unknown` message (`staging/src/k8s.io/apimachinery/pkg/runtime/
//! generated.proto`) whose `typeMeta` names the kind and whose `raw` holds the object, itself a
//! protobuf message of the Go types' `generated.proto`.
//!
//! The reader is hand-written rather than taken from a crate: `prost` decodes only into types
//! generated per message at build time (with `protoc` installed), and a JSON object is what
//! the handler needs; the wire format itself (varints, length-delimited fields, fixed32/64) is
//! small. The messages are described by tables transcribed from the real `generated.proto`
//! files: field number, JSON name, type, and how Go's JSON encoder would write the field
//! (`omitempty`, pointer, or always). A kind without a table, or a field number a table does
//! not list, is answered 415 as a server that does not take protobuf for that type would, never
//! decoded into something else.

use kube_store::format_rfc3339;
use serde_json::{Map, Value};

/// The protobuf media type.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: [u8; 4] = [0x6b, 0x38, 0x73, 0x00];

/// Why a protobuf body was not turned into JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProtobufError {
    /// The emulator has no description of this kind or of one of its fields (415).
    #[error("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")]
    Unsupported {
        /// `apiVersion` of the body, "" when unknown.
        api_version: String,
        /// `kind` of the body, "" when unknown.
        kind: String,
        /// What could not be decoded, for the reader of a failing test.
        detail: String,
    },
    /// The body is not a valid message, worded as the real decoder words it (400).
    #[error("{message}")]
    Malformed {
        /// The whole Status message.
        message: String,
    },
}

impl ProtobufError {
    /// The HTTP status of the answer.
    pub(crate) fn code(&self) -> u16 {
        match self {
            ProtobufError::Unsupported { .. } => 415,
            ProtobufError::Malformed { .. } => 400,
        }
    }
}

/// The kind an endpoint takes (`v1`, `Namespace`), as the real server's `scope.Kind`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint<'a> {
    pub(crate) api_version: &'a str,
    pub(crate) kind: &'a str,
}

/// Decodes a protobuf request body into the JSON object it stands for. `endpoint` is the kind
/// the URL takes (used, as the real decoder does, when the envelope names no kind, and in
/// error messages); `None` where the emulator does not know the endpoint.
pub(crate) fn decode(body: &[u8], endpoint: Option<Endpoint<'_>>) -> Result<Value, ProtobufError> {
    let must_be = endpoint.map(|e| e.kind).unwrap_or("Unknown");
    // Errors before the envelope names a kind: `transformDecodeError` with no GVK.
    let unrecognized = |err: String| ProtobufError::Malformed {
        message: format!(
            "the object provided is unrecognized (must be of type {must_be}): {err} ({})",
            summarize(body)
        ),
    };
    if body.is_empty() {
        return Err(unrecognized("empty data".into()));
    }
    if body.len() < MAGIC.len() || body[..MAGIC.len()] != MAGIC {
        return Err(unrecognized(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
                .into(),
        ));
    }
    if body.len() == MAGIC.len() {
        return Err(unrecognized("empty body".into()));
    }
    let unknown = decode_unknown(&body[MAGIC.len()..]).map_err(|e| unrecognized(e.to_string()))?;
    let (mut api_version, mut kind) = (unknown.api_version, unknown.kind);
    // `copyKindDefaults`: the endpoint's kind and version fill what the envelope leaves out.
    if let Some(e) = endpoint {
        if kind.is_empty() {
            kind = e.kind.to_string();
        }
        if version_of(&api_version).is_empty() {
            api_version = e.api_version.to_string();
        }
    }
    if kind.is_empty() {
        // `runtime.NewMissingKindErr` of the envelope's TypeMeta, `%#v`-formatted.
        return Err(unrecognized(format!(
            "Object 'Kind' is missing in 'runtime.TypeMeta{{APIVersion:{api_version:?}, Kind:\"\"}}'"
        )));
    }
    if !unknown.content_type.is_empty() || !unknown.content_encoding.is_empty() {
        return Err(ProtobufError::Unsupported {
            api_version,
            kind,
            detail: format!(
                "raw content type {:?}, encoding {:?}",
                unknown.content_type, unknown.content_encoding
            ),
        });
    }
    let Some(message) = message_for(&api_version, &kind) else {
        return Err(ProtobufError::Unsupported {
            detail: format!("no description of {kind} in {api_version}"),
            api_version,
            kind,
        });
    };
    let mut object = Map::new();
    object.insert("kind".into(), Value::String(kind.clone()));
    object.insert("apiVersion".into(), Value::String(api_version.clone()));
    match decode_message(message, &unknown.raw) {
        Ok(Value::Object(fields)) => object.extend(fields),
        Ok(_) => {}
        Err(DecodeError::Wire(e)) => {
            return Err(ProtobufError::Malformed {
                message: format!(
                    "{kind} in version {:?} cannot be handled as a {}: {e}",
                    version_of(&api_version),
                    endpoint.map(|e| e.kind).unwrap_or(&kind)
                ),
            })
        }
        Err(DecodeError::Undescribed(detail)) => {
            return Err(ProtobufError::Unsupported {
                api_version,
                kind,
                detail,
            })
        }
    }
    Ok(Value::Object(object))
}

fn version_of(api_version: &str) -> &str {
    api_version.rsplit('/').next().unwrap_or("")
}

/// `summarizeData` of `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/rest.go`: the first
/// 30 bytes, in hex unless they look like JSON.
fn summarize(data: &[u8]) -> String {
    const MAX: usize = 30;
    let (head, more) = if data.len() > MAX {
        (&data[..MAX], " ...")
    } else {
        (data, "")
    };
    if data.is_empty() {
        return "<empty>".into();
    }
    if data[0] == b'{' {
        return format!("{}{more}", String::from_utf8_lossy(head));
    }
    let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}{more}")
}

struct Unknown {
    api_version: String,
    kind: String,
    raw: Vec<u8>,
    content_encoding: String,
    content_type: String,
}

/// `runtime.Unknown`: typeMeta = 1 (TypeMeta: apiVersion = 1, kind = 2), raw = 2,
/// contentEncoding = 3, contentType = 4.
fn decode_unknown(data: &[u8]) -> Result<Unknown, WireError> {
    let mut unknown = Unknown {
        api_version: String::new(),
        kind: String::new(),
        raw: Vec::new(),
        content_encoding: String::new(),
        content_type: String::new(),
    };
    let mut r = Reader::new(data);
    while let Some((num, wire)) = r.tag("Unknown")? {
        match (num, wire) {
            (1, WIRE_LEN) => {
                let mut t = Reader::new(r.bytes()?);
                while let Some((num, wire)) = t.tag("TypeMeta")? {
                    match (num, wire) {
                        (1, WIRE_LEN) => unknown.api_version = t.string()?,
                        (2, WIRE_LEN) => unknown.kind = t.string()?,
                        (1, w) => return Err(WireError::WrongWireType(w, "APIVersion".into())),
                        (2, w) => return Err(WireError::WrongWireType(w, "Kind".into())),
                        (_, w) => t.skip(w)?,
                    }
                }
            }
            (2, WIRE_LEN) => unknown.raw = r.bytes()?.to_vec(),
            (3, WIRE_LEN) => unknown.content_encoding = r.string()?,
            (4, WIRE_LEN) => unknown.content_type = r.string()?,
            (1, w) => return Err(WireError::WrongWireType(w, "TypeMeta".into())),
            (2, w) => return Err(WireError::WrongWireType(w, "Raw".into())),
            (3, w) => return Err(WireError::WrongWireType(w, "ContentEncoding".into())),
            (4, w) => return Err(WireError::WrongWireType(w, "ContentType".into())),
            (_, w) => r.skip(w)?,
        }
    }
    Ok(unknown)
}

// ---------------------------------------------------------------------------------------------
// The wire format.

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_START_GROUP: u8 = 3;
const WIRE_END_GROUP: u8 = 4;
const WIRE_FIXED32: u8 = 5;

/// A malformed message, in the words of gogo-protobuf's generated `Unmarshal`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum WireError {
    #[error("unexpected EOF")]
    UnexpectedEof,
    #[error("proto: integer overflow")]
    IntOverflow,
    #[error("proto: negative length found during unmarshaling")]
    NegativeLength,
    #[error("proto: {0}: wiretype end group for non-group")]
    EndGroup(&'static str),
    #[error("proto: {0}: illegal tag {1} (wire type {2})")]
    IllegalTag(&'static str, u64, u8),
    #[error("proto: illegal wireType {0}")]
    IllegalWireType(u8),
    #[error("proto: wrong wireType = {0} for field {1}")]
    WrongWireType(u8, String),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.data.get(self.pos) else {
                return Err(WireError::UnexpectedEof);
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(WireError::IntOverflow)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let end = self.pos.checked_add(N).ok_or(WireError::UnexpectedEof)?;
        let bytes = self
            .data
            .get(self.pos..end)
            .ok_or(WireError::UnexpectedEof)?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.varint()?;
        // Go reads the length as an int: values past i64::MAX are negative.
        let len = i64::try_from(len).map_err(|_| WireError::NegativeLength)?;
        let len = usize::try_from(len).map_err(|_| WireError::UnexpectedEof)?;
        let end = self.pos.checked_add(len).ok_or(WireError::NegativeLength)?;
        let bytes = self
            .data
            .get(self.pos..end)
            .ok_or(WireError::UnexpectedEof)?;
        self.pos = end;
        Ok(bytes)
    }

    fn string(&mut self) -> Result<String, WireError> {
        // Go strings hold any bytes; JSON needs text, so invalid UTF-8 is replaced.
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    /// The next field's number and wire type, or `None` at the end.
    fn tag(&mut self, message: &'static str) -> Result<Option<(u64, u8)>, WireError> {
        if self.pos >= self.data.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        let num = key >> 3;
        if wire == WIRE_END_GROUP {
            return Err(WireError::EndGroup(message));
        }
        if num == 0 {
            return Err(WireError::IllegalTag(message, num, wire));
        }
        Ok(Some((num, wire)))
    }

    /// Skips a field this reader does not keep (`skipGenerated`).
    fn skip(&mut self, wire: u8) -> Result<(), WireError> {
        match wire {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_FIXED64 => self.fixed::<8>().map(drop),
            WIRE_LEN => self.bytes().map(drop),
            WIRE_FIXED32 => self.fixed::<4>().map(drop),
            WIRE_START_GROUP => loop {
                let key = self.varint()?;
                let w = (key & 7) as u8;
                if w == WIRE_END_GROUP {
                    return Ok(());
                }
                self.skip(w)?;
            },
            w => Err(WireError::IllegalWireType(w)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Message descriptions.

/// A field's protobuf type and what its JSON looks like.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    Bool,
    I32,
    I64,
    Msg(&'static Message),
    /// `meta.v1.Time{seconds, nanos}`: RFC 3339 with whole seconds; the zero time is `null`.
    Time,
    /// `meta.v1.MicroTime{seconds, nanos}`: RFC 3339 with microseconds; zero is `null`.
    MicroTime,
    /// `util.intstr.IntOrString{type, intVal, strVal}`: a number or a string.
    IntOrString,
    /// `map<string, string>`.
    StrMap,
    /// `map<string, bytes>`: base64 values.
    BytesMap,
    /// `map<string, Quantity>`: `api.resource.Quantity{string = 1}` is its string.
    QuantityMap,
    /// `map<string, ExtraValue{repeated string items}>`: lists of strings.
    ListMap,
    /// A field the emulator does not decode: a body that has it is answered 415.
    Undecoded,
}

/// How Go's JSON encoder writes the field, which decides what an absent or zero field becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Json {
    /// `omitempty` on a value: written only when not zero (not empty for lists and maps).
    OmitEmpty,
    /// A pointer: written when on the wire, zero or not.
    Pointer,
    /// No `omitempty` (or a struct value, which `omitempty` does not drop): always written,
    /// the zero value (`""`, `0`, `false`, `{}`, `null`) when absent.
    Always,
}

#[derive(Debug)]
struct Field {
    num: u64,
    name: &'static str,
    ty: Ty,
    repeated: bool,
    json: Json,
}

#[derive(Debug)]
struct Message {
    name: &'static str,
    fields: &'static [Field],
}

const fn f(num: u64, name: &'static str, ty: Ty, json: Json) -> Field {
    Field {
        num,
        name,
        ty,
        repeated: false,
        json,
    }
}

const fn rep(num: u64, name: &'static str, ty: Ty, json: Json) -> Field {
    Field {
        num,
        name,
        ty,
        repeated: true,
        json,
    }
}

use Json::{Always, OmitEmpty as Omit, Pointer as Ptr};
use Ty::*;

// staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto

static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        f(1, "name", Str, Omit),
        f(2, "generateName", Str, Omit),
        f(3, "namespace", Str, Omit),
        f(4, "selfLink", Str, Omit),
        f(5, "uid", Str, Omit),
        f(6, "resourceVersion", Str, Omit),
        f(7, "generation", I64, Omit),
        f(8, "creationTimestamp", Time, Always),
        f(9, "deletionTimestamp", Time, Ptr),
        f(10, "deletionGracePeriodSeconds", I64, Ptr),
        f(11, "labels", StrMap, Omit),
        f(12, "annotations", StrMap, Omit),
        rep(13, "ownerReferences", Msg(&OWNER_REFERENCE), Omit),
        rep(14, "finalizers", Str, Omit),
        // Not decoded: clients do not send them on create.
        rep(17, "managedFields", Undecoded, Omit),
    ],
};

static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        f(5, "apiVersion", Str, Always),
        f(1, "kind", Str, Always),
        f(3, "name", Str, Always),
        f(4, "uid", Str, Always),
        f(6, "controller", Bool, Ptr),
        f(7, "blockOwnerDeletion", Bool, Ptr),
    ],
};

static LABEL_SELECTOR: Message = Message {
    name: "LabelSelector",
    fields: &[
        f(1, "matchLabels", StrMap, Omit),
        rep(
            2,
            "matchExpressions",
            Msg(&LABEL_SELECTOR_REQUIREMENT),
            Omit,
        ),
    ],
};

static LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "LabelSelectorRequirement",
    fields: &[
        f(1, "key", Str, Always),
        f(2, "operator", Str, Always),
        rep(3, "values", Str, Omit),
    ],
};

static DELETE_OPTIONS: Message = Message {
    name: "DeleteOptions",
    fields: &[
        f(1, "gracePeriodSeconds", I64, Ptr),
        f(2, "preconditions", Msg(&PRECONDITIONS), Ptr),
        f(3, "orphanDependents", Bool, Ptr),
        f(4, "propagationPolicy", Str, Ptr),
        rep(5, "dryRun", Str, Omit),
    ],
};

static PRECONDITIONS: Message = Message {
    name: "Preconditions",
    fields: &[f(1, "uid", Str, Ptr), f(2, "resourceVersion", Str, Ptr)],
};

static CONDITION: Message = Message {
    name: "Condition",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "status", Str, Always),
        f(3, "observedGeneration", I64, Omit),
        f(4, "lastTransitionTime", Time, Always),
        f(5, "reason", Str, Always),
        f(6, "message", Str, Always),
    ],
};

// staging/src/k8s.io/api/core/v1/generated.proto

static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&NAMESPACE_SPEC), Always),
        f(3, "status", Msg(&NAMESPACE_STATUS), Always),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    name: "NamespaceSpec",
    fields: &[rep(1, "finalizers", Str, Omit)],
};

static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[
        f(1, "phase", Str, Omit),
        rep(2, "conditions", Msg(&NAMESPACE_CONDITION), Omit),
    ],
};

static NAMESPACE_CONDITION: Message = Message {
    name: "NamespaceCondition",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "status", Str, Always),
        f(4, "lastTransitionTime", Time, Always),
        f(5, "reason", Str, Omit),
        f(6, "message", Str, Omit),
    ],
};

static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        rep(2, "secrets", Msg(&OBJECT_REFERENCE), Omit),
        rep(3, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE), Omit),
        f(4, "automountServiceAccountToken", Bool, Ptr),
    ],
};

static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        f(1, "kind", Str, Omit),
        f(2, "namespace", Str, Omit),
        f(3, "name", Str, Omit),
        f(4, "uid", Str, Omit),
        f(5, "apiVersion", Str, Omit),
        f(6, "resourceVersion", Str, Omit),
        f(7, "fieldPath", Str, Omit),
    ],
};

static LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "LocalObjectReference",
    fields: &[f(1, "name", Str, Omit)],
};

static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(5, "immutable", Bool, Ptr),
        f(2, "data", BytesMap, Omit),
        f(4, "stringData", StrMap, Omit),
        f(3, "type", Str, Omit),
    ],
};

static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(4, "immutable", Bool, Ptr),
        f(2, "data", StrMap, Omit),
        f(3, "binaryData", BytesMap, Omit),
    ],
};

static RESOURCE_QUOTA: Message = Message {
    name: "ResourceQuota",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&RESOURCE_QUOTA_SPEC), Always),
        f(3, "status", Msg(&RESOURCE_QUOTA_STATUS), Always),
    ],
};

static RESOURCE_QUOTA_SPEC: Message = Message {
    name: "ResourceQuotaSpec",
    fields: &[
        f(1, "hard", QuantityMap, Omit),
        rep(2, "scopes", Str, Omit),
        f(3, "scopeSelector", Msg(&SCOPE_SELECTOR), Ptr),
    ],
};

static SCOPE_SELECTOR: Message = Message {
    name: "ScopeSelector",
    fields: &[rep(
        1,
        "matchExpressions",
        Msg(&SCOPED_RESOURCE_SELECTOR_REQUIREMENT),
        Omit,
    )],
};

static SCOPED_RESOURCE_SELECTOR_REQUIREMENT: Message = Message {
    name: "ScopedResourceSelectorRequirement",
    fields: &[
        f(1, "scopeName", Str, Always),
        f(2, "operator", Str, Always),
        rep(3, "values", Str, Omit),
    ],
};

static RESOURCE_QUOTA_STATUS: Message = Message {
    name: "ResourceQuotaStatus",
    fields: &[
        f(1, "hard", QuantityMap, Omit),
        f(2, "used", QuantityMap, Omit),
    ],
};

// staging/src/k8s.io/api/policy/v1/generated.proto

static POD_DISRUPTION_BUDGET: Message = Message {
    name: "PodDisruptionBudget",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&POD_DISRUPTION_BUDGET_SPEC), Always),
        f(3, "status", Msg(&POD_DISRUPTION_BUDGET_STATUS), Always),
    ],
};

static POD_DISRUPTION_BUDGET_SPEC: Message = Message {
    name: "PodDisruptionBudgetSpec",
    fields: &[
        f(1, "minAvailable", IntOrString, Ptr),
        f(2, "selector", Msg(&LABEL_SELECTOR), Ptr),
        f(3, "maxUnavailable", IntOrString, Ptr),
        f(4, "unhealthyPodEvictionPolicy", Str, Ptr),
    ],
};

static POD_DISRUPTION_BUDGET_STATUS: Message = Message {
    name: "PodDisruptionBudgetStatus",
    fields: &[
        f(1, "observedGeneration", I64, Omit),
        // map<string, Time>: only the disruption controller writes it.
        f(2, "disruptedPods", Undecoded, Omit),
        f(3, "disruptionsAllowed", I32, Always),
        f(4, "currentHealthy", I32, Always),
        f(5, "desiredHealthy", I32, Always),
        f(6, "expectedPods", I32, Always),
        rep(7, "conditions", Msg(&CONDITION), Omit),
    ],
};

// staging/src/k8s.io/api/authentication/v1/generated.proto

static TOKEN_REQUEST: Message = Message {
    name: "TokenRequest",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&TOKEN_REQUEST_SPEC), Always),
        f(3, "status", Msg(&TOKEN_REQUEST_STATUS), Always),
    ],
};

static TOKEN_REQUEST_SPEC: Message = Message {
    name: "TokenRequestSpec",
    fields: &[
        rep(1, "audiences", Str, Always),
        f(4, "expirationSeconds", I64, Ptr),
        f(3, "boundObjectRef", Msg(&BOUND_OBJECT_REFERENCE), Ptr),
    ],
};

static BOUND_OBJECT_REFERENCE: Message = Message {
    name: "BoundObjectReference",
    fields: &[
        f(1, "kind", Str, Omit),
        f(2, "apiVersion", Str, Omit),
        f(3, "name", Str, Omit),
        f(4, "uid", Str, Omit),
    ],
};

static TOKEN_REQUEST_STATUS: Message = Message {
    name: "TokenRequestStatus",
    fields: &[
        f(1, "token", Str, Always),
        f(2, "expirationTimestamp", Time, Always),
    ],
};

// staging/src/k8s.io/api/authorization/v1/generated.proto

static SELF_SUBJECT_ACCESS_REVIEW: Message = Message {
    name: "SelfSubjectAccessReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&SELF_SUBJECT_ACCESS_REVIEW_SPEC), Always),
        f(3, "status", Msg(&SUBJECT_ACCESS_REVIEW_STATUS), Always),
    ],
};

static SELF_SUBJECT_ACCESS_REVIEW_SPEC: Message = Message {
    name: "SelfSubjectAccessReviewSpec",
    fields: &[
        f(1, "resourceAttributes", Msg(&RESOURCE_ATTRIBUTES), Ptr),
        f(
            2,
            "nonResourceAttributes",
            Msg(&NON_RESOURCE_ATTRIBUTES),
            Ptr,
        ),
    ],
};

static SUBJECT_ACCESS_REVIEW: Message = Message {
    name: "SubjectAccessReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&SUBJECT_ACCESS_REVIEW_SPEC), Always),
        f(3, "status", Msg(&SUBJECT_ACCESS_REVIEW_STATUS), Always),
    ],
};

static SUBJECT_ACCESS_REVIEW_SPEC: Message = Message {
    name: "SubjectAccessReviewSpec",
    fields: &[
        f(1, "resourceAttributes", Msg(&RESOURCE_ATTRIBUTES), Ptr),
        f(
            2,
            "nonResourceAttributes",
            Msg(&NON_RESOURCE_ATTRIBUTES),
            Ptr,
        ),
        f(3, "user", Str, Omit),
        rep(4, "groups", Str, Omit),
        f(5, "extra", ListMap, Omit),
        f(6, "uid", Str, Omit),
    ],
};

static RESOURCE_ATTRIBUTES: Message = Message {
    name: "ResourceAttributes",
    fields: &[
        f(1, "namespace", Str, Omit),
        f(2, "verb", Str, Omit),
        f(3, "group", Str, Omit),
        f(4, "version", Str, Omit),
        f(5, "resource", Str, Omit),
        f(6, "subresource", Str, Omit),
        f(7, "name", Str, Omit),
        f(8, "fieldSelector", Msg(&FIELD_SELECTOR_ATTRIBUTES), Ptr),
        f(9, "labelSelector", Msg(&LABEL_SELECTOR_ATTRIBUTES), Ptr),
    ],
};

static FIELD_SELECTOR_ATTRIBUTES: Message = Message {
    name: "FieldSelectorAttributes",
    fields: &[
        f(1, "rawSelector", Str, Omit),
        rep(2, "requirements", Msg(&FIELD_SELECTOR_REQUIREMENT), Omit),
    ],
};

static FIELD_SELECTOR_REQUIREMENT: Message = Message {
    name: "FieldSelectorRequirement",
    fields: &[
        f(1, "key", Str, Always),
        f(2, "operator", Str, Always),
        rep(3, "values", Str, Omit),
    ],
};

static LABEL_SELECTOR_ATTRIBUTES: Message = Message {
    name: "LabelSelectorAttributes",
    fields: &[
        f(1, "rawSelector", Str, Omit),
        rep(2, "requirements", Msg(&LABEL_SELECTOR_REQUIREMENT), Omit),
    ],
};

static NON_RESOURCE_ATTRIBUTES: Message = Message {
    name: "NonResourceAttributes",
    fields: &[f(1, "path", Str, Omit), f(2, "verb", Str, Omit)],
};

static SUBJECT_ACCESS_REVIEW_STATUS: Message = Message {
    name: "SubjectAccessReviewStatus",
    fields: &[
        f(1, "allowed", Bool, Always),
        f(4, "denied", Bool, Omit),
        f(2, "reason", Str, Omit),
        f(3, "evaluationError", Str, Omit),
    ],
};

static SELF_SUBJECT_RULES_REVIEW: Message = Message {
    name: "SelfSubjectRulesReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&SELF_SUBJECT_RULES_REVIEW_SPEC), Always),
        f(3, "status", Msg(&SUBJECT_RULES_REVIEW_STATUS), Always),
    ],
};

static SELF_SUBJECT_RULES_REVIEW_SPEC: Message = Message {
    name: "SelfSubjectRulesReviewSpec",
    fields: &[f(1, "namespace", Str, Omit)],
};

static SUBJECT_RULES_REVIEW_STATUS: Message = Message {
    name: "SubjectRulesReviewStatus",
    fields: &[
        rep(1, "resourceRules", Msg(&RESOURCE_RULE), Always),
        rep(2, "nonResourceRules", Msg(&NON_RESOURCE_RULE), Always),
        f(3, "incomplete", Bool, Always),
        f(4, "evaluationError", Str, Omit),
    ],
};

static RESOURCE_RULE: Message = Message {
    name: "ResourceRule",
    fields: &[
        rep(1, "verbs", Str, Always),
        rep(2, "apiGroups", Str, Omit),
        rep(3, "resources", Str, Omit),
        rep(4, "resourceNames", Str, Omit),
    ],
};

static NON_RESOURCE_RULE: Message = Message {
    name: "NonResourceRule",
    fields: &[
        rep(1, "verbs", Str, Always),
        rep(2, "nonResourceURLs", Str, Omit),
    ],
};

// staging/src/k8s.io/api/rbac/v1/generated.proto

static ROLE: Message = Message {
    name: "Role",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        rep(2, "rules", Msg(&POLICY_RULE), Always),
    ],
};

static CLUSTER_ROLE: Message = Message {
    name: "ClusterRole",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        rep(2, "rules", Msg(&POLICY_RULE), Always),
        f(3, "aggregationRule", Msg(&AGGREGATION_RULE), Ptr),
    ],
};

static POLICY_RULE: Message = Message {
    name: "PolicyRule",
    fields: &[
        rep(1, "verbs", Str, Always),
        rep(2, "apiGroups", Str, Omit),
        rep(3, "resources", Str, Omit),
        rep(4, "resourceNames", Str, Omit),
        rep(5, "nonResourceURLs", Str, Omit),
    ],
};

static AGGREGATION_RULE: Message = Message {
    name: "AggregationRule",
    fields: &[rep(1, "clusterRoleSelectors", Msg(&LABEL_SELECTOR), Omit)],
};

static ROLE_BINDING: Message = Message {
    name: "RoleBinding",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        rep(2, "subjects", Msg(&SUBJECT), Omit),
        f(3, "roleRef", Msg(&ROLE_REF), Always),
    ],
};

static CLUSTER_ROLE_BINDING: Message = Message {
    name: "ClusterRoleBinding",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        rep(2, "subjects", Msg(&SUBJECT), Omit),
        f(3, "roleRef", Msg(&ROLE_REF), Always),
    ],
};

static SUBJECT: Message = Message {
    name: "Subject",
    fields: &[
        f(1, "kind", Str, Always),
        f(2, "apiGroup", Str, Omit),
        f(3, "name", Str, Always),
        f(4, "namespace", Str, Omit),
    ],
};

static ROLE_REF: Message = Message {
    name: "RoleRef",
    fields: &[
        f(1, "apiGroup", Str, Always),
        f(2, "kind", Str, Always),
        f(3, "name", Str, Always),
    ],
};

// staging/src/k8s.io/api/coordination/v1/generated.proto

static LEASE: Message = Message {
    name: "Lease",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&LEASE_SPEC), Always),
    ],
};

static LEASE_SPEC: Message = Message {
    name: "LeaseSpec",
    fields: &[
        f(1, "holderIdentity", Str, Ptr),
        f(2, "leaseDurationSeconds", I32, Ptr),
        f(3, "acquireTime", MicroTime, Ptr),
        f(4, "renewTime", MicroTime, Ptr),
        f(5, "leaseTransitions", I32, Ptr),
        f(6, "strategy", Str, Ptr),
        f(7, "preferredHolder", Str, Ptr),
    ],
};

/// The description of `kind` in `api_version`, for the kinds the emulator decodes.
fn message_for(api_version: &str, kind: &str) -> Option<&'static Message> {
    let m = match (api_version, kind) {
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Secret") => &SECRET,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "ResourceQuota") => &RESOURCE_QUOTA,
        // Options bodies are sent in the group of the endpoint (`copyKindDefaults`) or as
        // meta.k8s.io/v1.
        (_, "DeleteOptions") => &DELETE_OPTIONS,
        ("policy/v1", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        ("authentication.k8s.io/v1", "TokenRequest") => &TOKEN_REQUEST,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => &SELF_SUBJECT_ACCESS_REVIEW,
        // LocalSubjectAccessReview has the fields of SubjectAccessReview.
        ("authorization.k8s.io/v1", "SubjectAccessReview" | "LocalSubjectAccessReview") => {
            &SUBJECT_ACCESS_REVIEW
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => &SELF_SUBJECT_RULES_REVIEW,
        ("rbac.authorization.k8s.io/v1", "Role") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => &ROLE_BINDING,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => &CLUSTER_ROLE_BINDING,
        ("coordination.k8s.io/v1", "Lease") => &LEASE,
        _ => return None,
    };
    Some(m)
}

// ---------------------------------------------------------------------------------------------
// Decoding with the descriptions.

enum DecodeError {
    Wire(WireError),
    Undescribed(String),
}

impl From<WireError> for DecodeError {
    fn from(e: WireError) -> Self {
        DecodeError::Wire(e)
    }
}

/// The Go field name gogo-protobuf puts in its errors (`Name`, `APIVersion`, `UID`).
fn go_name(json: &str) -> String {
    let special = [
        ("uid", "UID"),
        ("apiVersion", "APIVersion"),
        ("apiGroup", "APIGroup"),
        ("apiGroups", "APIGroups"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("metadata", "ObjectMeta"),
    ];
    if let Some((_, go)) = special.iter().find(|(j, _)| *j == json) {
        return go.to_string();
    }
    let mut chars = json.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn expected_wire(ty: Ty) -> u8 {
    match ty {
        Str | Msg(_) | Time | MicroTime | IntOrString | StrMap | BytesMap | QuantityMap
        | ListMap | Undecoded => WIRE_LEN,
        Bool | I32 | I64 => WIRE_VARINT,
    }
}

fn decode_message(message: &'static Message, data: &[u8]) -> Result<Value, DecodeError> {
    let mut seen: Map<String, Value> = Map::new();
    // A message field seen twice is merged, as gogo's `Unmarshal` does; two serialized
    // messages one after the other are their merge, so the parts are joined and read once.
    let mut parts: Vec<(&'static Field, Vec<u8>)> = Vec::new();
    let mut r = Reader::new(data);
    while let Some((num, wire)) = r.tag(message.name)? {
        let Some(field) = message.fields.iter().find(|f| f.num == num) else {
            return Err(DecodeError::Undescribed(format!(
                "field {num} of {} is not described",
                message.name
            )));
        };
        // Packed repeated scalars (proto3 style) are not used by the described messages.
        if wire != expected_wire(field.ty) {
            return Err(WireError::WrongWireType(wire, go_name(field.name)).into());
        }
        match field.ty {
            Undecoded => {
                return Err(DecodeError::Undescribed(format!(
                    "{}.{} is not decoded",
                    message.name, field.name
                )))
            }
            StrMap | BytesMap | QuantityMap | ListMap => {
                let (k, v) = map_entry(field.ty, r.bytes()?)?;
                let entry = seen
                    .entry(field.name.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(k, v);
                }
            }
            Msg(_) if !field.repeated => {
                let bytes = r.bytes()?;
                match parts.iter_mut().find(|(f, _)| f.num == num) {
                    Some((_, joined)) => joined.extend_from_slice(bytes),
                    None => parts.push((field, bytes.to_vec())),
                }
            }
            ty => {
                let v = scalar(ty, &mut r)?;
                if field.repeated {
                    let entry = seen
                        .entry(field.name.to_string())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = entry {
                        a.push(v);
                    }
                } else {
                    seen.insert(field.name.to_string(), v);
                }
            }
        }
    }
    for (field, bytes) in parts {
        if let Msg(inner) = field.ty {
            seen.insert(field.name.to_string(), decode_message(inner, &bytes)?);
        }
    }
    let mut out = Map::new();
    for field in message.fields {
        let value = match (seen.remove(field.name), field.json) {
            (Some(v), Json::OmitEmpty) if is_empty(&v) => None,
            (Some(v), _) => Some(v),
            (None, Json::Always) => Some(zero(field)?),
            (None, _) => None,
        };
        if let Some(v) = value {
            out.insert(field.name.to_string(), v);
        }
    }
    Ok(Value::Object(out))
}

/// One value of a non-map field of type `ty`, read from `r`.
fn scalar(ty: Ty, r: &mut Reader<'_>) -> Result<Value, DecodeError> {
    Ok(match ty {
        Str => Value::String(r.string()?),
        Bool => Value::Bool(r.varint()? != 0),
        // Go's int32 keeps the low 32 bits of the varint.
        I32 => Value::from(r.varint()? as u32 as i32),
        I64 => Value::from(r.varint()? as i64),
        Msg(m) => decode_message(m, r.bytes()?)?,
        Time => time(r.bytes()?, false)?,
        MicroTime => time(r.bytes()?, true)?,
        IntOrString => int_or_string(r.bytes()?)?,
        StrMap | BytesMap | QuantityMap | ListMap | Undecoded => {
            unreachable!("maps, messages and undecoded fields are read by decode_message")
        }
    })
}

/// A map entry message: key = 1 (string), value = 2.
fn map_entry(ty: Ty, data: &[u8]) -> Result<(String, Value), DecodeError> {
    let mut key = String::new();
    let mut value = None;
    let mut r = Reader::new(data);
    while let Some((num, wire)) = r.tag("MapEntry")? {
        match (num, wire) {
            (1, WIRE_LEN) => key = r.string()?,
            (2, WIRE_LEN) => {
                value = Some(match ty {
                    StrMap => Value::String(r.string()?),
                    BytesMap => Value::String(base64(r.bytes()?)),
                    QuantityMap => quantity(r.bytes()?)?,
                    _ => list_of_strings(r.bytes()?)?,
                })
            }
            (1 | 2, w) => return Err(WireError::IllegalWireType(w).into()),
            (_, w) => r.skip(w)?,
        }
    }
    let value = value.unwrap_or_else(|| match ty {
        ListMap => Value::Null,
        _ => Value::String(String::new()),
    });
    Ok((key, value))
}

/// `ExtraValue{repeated string items = 1}`: a JSON list.
fn list_of_strings(data: &[u8]) -> Result<Value, DecodeError> {
    let mut items = Vec::new();
    let mut r = Reader::new(data);
    while let Some((num, wire)) = r.tag("ExtraValue")? {
        match (num, wire) {
            (1, WIRE_LEN) => items.push(Value::String(r.string()?)),
            (1, w) => return Err(WireError::WrongWireType(w, "Items".into()).into()),
            (_, w) => r.skip(w)?,
        }
    }
    Ok(Value::Array(items))
}

/// `Time` / `MicroTime`: seconds = 1 (int64), nanos = 2 (int32).
fn time(data: &[u8], micro: bool) -> Result<Value, DecodeError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut r = Reader::new(data);
    let name = if micro { "MicroTime" } else { "Timestamp" };
    while let Some((num, wire)) = r.tag(name)? {
        match (num, wire) {
            (1, WIRE_VARINT) => seconds = r.varint()? as i64,
            (2, WIRE_VARINT) => nanos = r.varint()? as u32 as i32,
            (1, w) => return Err(WireError::WrongWireType(w, "Seconds".into()).into()),
            (2, w) => return Err(WireError::WrongWireType(w, "Nanos".into()).into()),
            (_, w) => r.skip(w)?,
        }
    }
    if seconds == 0 && nanos == 0 {
        // The zero time: `metav1.Time` marshals it as null.
        return Ok(Value::Null);
    }
    let base = format_rfc3339(seconds);
    if !micro {
        // `metav1.Time` keeps whole seconds in JSON.
        return Ok(Value::String(base));
    }
    let micros = (nanos.max(0) / 1000) as u32;
    let text = format!("{}.{micros:06}Z", base.trim_end_matches('Z'));
    Ok(Value::String(text))
}

/// `IntOrString`: type = 1 (0 int, 1 string), intVal = 2, strVal = 3.
fn int_or_string(data: &[u8]) -> Result<Value, DecodeError> {
    let (mut kind, mut int_val, mut str_val) = (0u64, 0i32, String::new());
    let mut r = Reader::new(data);
    while let Some((num, wire)) = r.tag("IntOrString")? {
        match (num, wire) {
            (1, WIRE_VARINT) => kind = r.varint()?,
            (2, WIRE_VARINT) => int_val = r.varint()? as u32 as i32,
            (3, WIRE_LEN) => str_val = r.string()?,
            (1, w) => return Err(WireError::WrongWireType(w, "Type".into()).into()),
            (2, w) => return Err(WireError::WrongWireType(w, "IntVal".into()).into()),
            (3, w) => return Err(WireError::WrongWireType(w, "StrVal".into()).into()),
            (_, w) => r.skip(w)?,
        }
    }
    Ok(if kind == 1 {
        Value::String(str_val)
    } else {
        Value::from(int_val)
    })
}

/// `Quantity`: string = 1.
fn quantity(data: &[u8]) -> Result<Value, DecodeError> {
    let mut s = String::new();
    let mut r = Reader::new(data);
    while let Some((num, wire)) = r.tag("Quantity")? {
        match (num, wire) {
            (1, WIRE_LEN) => s = r.string()?,
            (1, w) => return Err(WireError::WrongWireType(w, "String_".into()).into()),
            (_, w) => r.skip(w)?,
        }
    }
    Ok(Value::String(s))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// The JSON Go writes for an absent field without `omitempty`.
fn zero(field: &Field) -> Result<Value, DecodeError> {
    if field.repeated {
        return Ok(Value::Null);
    }
    Ok(match field.ty {
        Str => Value::String(String::new()),
        Bool => Value::Bool(false),
        I32 | I64 | IntOrString => Value::from(0),
        Msg(m) => decode_message(m, &[])?,
        Time | MicroTime | StrMap | BytesMap | QuantityMap | ListMap | Undecoded => Value::Null,
    })
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Bodies sent by kubectl v1.32, as captured from the wire.
    /// `kubectl create namespace demo`
    const CREATE_NAMESPACE: &[&str] = &[
        "6b3873000a0f0a02763112094e616d657370616365121c0a140a0464656d6f12001a0022002a003200380042",
        "0012001a020a001a002200",
    ];

    /// `kubectl create secret generic s --from-literal=a=b -n demo`
    const CREATE_SECRET: &[&str] = &[
        "6b3873000a0c0a027631120653656372657412210a150a017312001a0464656d6f22002a0032003800420012",
        "060a01611201621a001a002200",
    ];

    /// `kubectl create serviceaccount sa -n demo`
    const CREATE_SERVICE_ACCOUNT: &[&str] = &[
        "6b3873000a140a027631120e536572766963654163636f756e7412180a160a02736112001a0464656d6f2200",
        "2a003200380042001a002200",
    ];

    /// `kubectl create configmap cm --from-literal=k=v --from-literal=x=y -n demo`
    const CREATE_CONFIG_MAP: &[&str] = &[
        "6b3873000a0f0a0276311209436f6e6669674d617012280a160a02636d12001a0464656d6f22002a00320038",
        "00420012060a016b12017612060a01781201791a002200",
    ];

    /// `kubectl create rolebinding rb --clusterrole=view --user=alice --serviceaccount=demo:sa -n demo`
    const CREATE_ROLE_BINDING: &[&str] = &[
        "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c654269",
        "6e64696e671292010a160a02726212001a0464656d6f22002a00320038004200122a0a045573657212197262",
        "61632e617574686f72697a6174696f6e2e6b38732e696f1a05616c6963652200121c0a0e5365727669636541",
        "63636f756e7412001a027361220464656d6f1a2e0a19726261632e617574686f72697a6174696f6e2e6b3873",
        "2e696f120b436c7573746572526f6c651a04766965771a002200",
    ];

    /// `kubectl create clusterrolebinding crb --clusterrole=view --group=devs`
    const CREATE_CLUSTER_ROLE_BINDING: &[&str] = &[
        "6b3873000a320a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311212436c75737465",
        "72526f6c6542696e64696e6712710a130a0363726212001a0022002a00320038004200122a0a0547726f7570",
        "1219726261632e617574686f72697a6174696f6e2e6b38732e696f1a046465767322001a2e0a19726261632e",
        "617574686f72697a6174696f6e2e6b38732e696f120b436c7573746572526f6c651a04766965771a002200",
    ];

    /// `kubectl create token sa -n demo --duration=10m --audience=a1`
    const CREATE_TOKEN: &[&str] = &[
        "6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e5265717565",
        "737412210a100a0012001a0022002a0032003800420012070a02613120d8041a040a0012001a002200",
    ];

    /// `kubectl auth can-i get pods -n demo`
    const AUTH_CAN_I: &[&str] = &[
        "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a656374",
        "41636365737352657669657712390a100a0012001a0022002a00320038004200121b0a190a0464656d6f1203",
        "6765741a0022002a04706f647332003a001a08080012001a0020001a002200",
    ];

    /// `kubectl auth can-i --list -n demo`
    const AUTH_CAN_I_LIST: &[&str] = &[
        "6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a656374",
        "52756c657352657669657712200a100a0012001a0022002a0032003800420012060a0464656d6f1a04180022",
        "001a002200",
    ];

    /// `kubectl create role r --verb=get,list --resource=pods --resource=deployments.apps -n demo`
    const CREATE_ROLE: &[&str] = &[
        "6b3873000a240a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311204526f6c65124c",
        "0a150a017212001a0464656d6f22002a0032003800420012130a036765740a046c69737412001a04706f6473",
        "121e0a036765740a046c6973741204617070731a0b6465706c6f796d656e74731a002200",
    ];

    /// `kubectl create clusterrole cr --verb=get --resource=secrets --resource-name=x --non-resource-url=/healthz`
    const CREATE_CLUSTER_ROLE: &[&str] = &[
        "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c75737465",
        "72526f6c65123a0a120a02637212001a0022002a0032003800420012130a0367657412001a07736563726574",
        "73220178120f0a036765742a082f6865616c74687a1a002200",
    ];

    /// `kubectl create clusterrole agg --aggregation-rule=rbac.example.com/aggregate=true`
    const CREATE_AGGREGATED_CLUSTER_ROLE: &[&str] = &[
        "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c75737465",
        "72526f6c65123d0a130a0361676712001a0022002a003200380042001a260a240a220a1a726261632e657861",
        "6d706c652e636f6d2f6167677265676174651204747275651a002200",
    ];

    /// `kubectl create quota q --hard=cpu=1500m,pods=2,requests.memory=1Gi --scopes=BestEffort -n demo`
    const CREATE_QUOTA: &[&str] = &[
        "6b3873000a130a027631120d5265736f7572636551756f7461125e0a150a017112001a0464656d6f22002a00",
        "32003800420012430a0e0a0363707512070a05313530306d0a0b0a04706f647312030a01320a180a0f726571",
        "75657374732e6d656d6f727912050a03314769120a426573744566666f72741a001a002200",
    ];

    /// `kubectl create pdb p --selector=app=x --min-available=50% -n demo`
    const CREATE_PDB_MIN_AVAILABLE: &[&str] = &[
        "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e427564676574123c0a150a01",
        "7012001a0464656d6f22002a0032003800420012170a09080110001a03353025120a0a080a03617070120178",
        "1a0a080018002000280030001a002200",
    ];

    /// `kubectl create pdb p2 --selector=app=x --max-unavailable=1 -n demo`
    const CREATE_PDB_MAX_UNAVAILABLE: &[&str] = &[
        "6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e427564676574123a0a160a02",
        "703212001a0464656d6f22002a003200380042001214120a0a080a036170701201781a06080010011a001a0a",
        "080018002000280030001a002200",
    ];

    /// `kubectl create secret generic bin --from-literal=k=$'a\x01b' -n demo`
    const CREATE_BINARY_SECRET: &[&str] = &[
        "6b3873000a0c0a027631120653656372657412250a170a0362696e12001a0464656d6f22002a003200380042",
        "0012080a016b12036101621a001a002200",
    ];

    fn hex(parts: &[&str]) -> Vec<u8> {
        let s: String = parts.concat();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn endpoint<'a>(api_version: &'a str, kind: &'a str) -> Option<Endpoint<'a>> {
        Some(Endpoint { api_version, kind })
    }

    fn decoded(parts: &[&str], api_version: &str, kind: &str) -> Value {
        decode(&hex(parts), endpoint(api_version, kind)).unwrap()
    }

    // An encoder for bodies kubectl does not send.
    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn len_field(num: u64, data: &[u8]) -> Vec<u8> {
        let mut out = varint(num << 3 | 2);
        out.extend(varint(data.len() as u64));
        out.extend_from_slice(data);
        out
    }

    fn int_field(num: u64, v: u64) -> Vec<u8> {
        let mut out = varint(num << 3);
        out.extend(varint(v));
        out
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [
            len_field(1, api_version.as_bytes()),
            len_field(2, kind.as_bytes()),
        ]
        .concat();
        let mut out = MAGIC.to_vec();
        out.extend(len_field(1, &type_meta));
        out.extend(len_field(2, raw));
        out
    }

    fn meta(name: &str) -> Vec<u8> {
        len_field(1, &len_field(1, name.as_bytes()))
    }

    #[test]
    fn kubectl_create_namespace_decodes_to_the_namespace_json() {
        assert_eq!(
            decoded(CREATE_NAMESPACE, "v1", "Namespace"),
            json!({
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {"name": "demo", "creationTimestamp": null},
                "spec": {},
                "status": {},
            })
        );
    }

    #[test]
    fn secret_data_bytes_become_base64() {
        assert_eq!(
            decoded(CREATE_SECRET, "v1", "Secret"),
            json!({
                "kind": "Secret",
                "apiVersion": "v1",
                "metadata": {"name": "s", "namespace": "demo", "creationTimestamp": null},
                "data": {"a": "Yg=="},
            })
        );
        let bin = decoded(CREATE_BINARY_SECRET, "v1", "Secret");
        assert_eq!(bin["data"], json!({"k": "YQFi"}));
    }

    #[test]
    fn kubectl_create_serviceaccount_and_configmap_decode() {
        assert_eq!(
            decoded(CREATE_SERVICE_ACCOUNT, "v1", "ServiceAccount"),
            json!({
                "kind": "ServiceAccount",
                "apiVersion": "v1",
                "metadata": {"name": "sa", "namespace": "demo", "creationTimestamp": null},
            })
        );
        let cm = decoded(CREATE_CONFIG_MAP, "v1", "ConfigMap");
        assert_eq!(cm["data"], json!({"k": "v", "x": "y"}));
        assert_eq!(cm["metadata"]["name"], "cm");
    }

    #[test]
    fn rbac_bindings_keep_subjects_and_role_ref() {
        let rb = decoded(
            CREATE_ROLE_BINDING,
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
        );
        assert_eq!(rb["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert_eq!(
            rb["subjects"],
            json!([
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "demo"},
            ])
        );
        assert_eq!(
            rb["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"})
        );
        let crb = decoded(
            CREATE_CLUSTER_ROLE_BINDING,
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
        );
        assert_eq!(
            crb["subjects"],
            json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}])
        );
    }

    #[test]
    fn rbac_roles_keep_rules_with_the_core_group_as_empty_string() {
        let role = decoded(CREATE_ROLE, "rbac.authorization.k8s.io/v1", "Role");
        assert_eq!(
            role["rules"],
            json!([
                {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
                {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"]},
            ])
        );
        let cr = decoded(
            CREATE_CLUSTER_ROLE,
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
        );
        assert_eq!(
            cr["rules"],
            json!([
                {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["x"]},
                {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            ])
        );
        assert!(
            cr.get("aggregationRule").is_none(),
            "a nil pointer is absent"
        );
        // `rules` has no omitempty: an aggregated role's absent rules are null, as in Go.
        let agg = decoded(
            CREATE_AGGREGATED_CLUSTER_ROLE,
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
        );
        assert_eq!(agg["rules"], Value::Null);
        assert_eq!(
            agg["aggregationRule"],
            json!({"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]})
        );
    }

    #[test]
    fn kubectl_create_token_decodes_audiences_and_expiration() {
        assert_eq!(
            decoded(CREATE_TOKEN, "authentication.k8s.io/v1", "TokenRequest"),
            json!({
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"audiences": ["a1"], "expirationSeconds": 600},
                "status": {"token": "", "expirationTimestamp": null},
            })
        );
    }

    #[test]
    fn kubectl_auth_can_i_decodes_to_a_self_subject_access_review() {
        // Decoded by the envelope's kind even where the emulator knows no such endpoint.
        let ssar = decode(&hex(AUTH_CAN_I), None).unwrap();
        assert_eq!(
            ssar,
            json!({
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"resourceAttributes": {"namespace": "demo", "verb": "get", "resource": "pods"}},
                "status": {"allowed": false},
            })
        );
        let rules = decode(&hex(AUTH_CAN_I_LIST), None).unwrap();
        assert_eq!(rules["kind"], "SelfSubjectRulesReview");
        assert_eq!(rules["spec"], json!({"namespace": "demo"}));
        assert_eq!(
            rules["status"],
            json!({"resourceRules": null, "nonResourceRules": null, "incomplete": false})
        );
    }

    #[test]
    fn subject_access_review_extra_values_are_lists() {
        let extra_entry = [
            len_field(1, b"scopes"),
            len_field(2, &[len_field(1, b"a"), len_field(1, b"b")].concat()),
        ]
        .concat();
        let spec = [
            len_field(3, b"alice"),
            len_field(4, b"devs"),
            len_field(5, &extra_entry),
        ]
        .concat();
        let body = envelope(
            "authorization.k8s.io/v1",
            "SubjectAccessReview",
            &len_field(2, &spec),
        );
        let sar = decode(&body, None).unwrap();
        assert_eq!(
            sar["spec"],
            json!({"user": "alice", "groups": ["devs"], "extra": {"scopes": ["a", "b"]}})
        );
    }

    #[test]
    fn quantities_and_int_or_strings_decode_to_their_json_forms() {
        let q = decoded(CREATE_QUOTA, "v1", "ResourceQuota");
        assert_eq!(
            q["spec"],
            json!({"hard": {"cpu": "1500m", "pods": "2", "requests.memory": "1Gi"}, "scopes": ["BestEffort"]})
        );
        let pdb = decoded(CREATE_PDB_MIN_AVAILABLE, "policy/v1", "PodDisruptionBudget");
        assert_eq!(
            pdb["spec"],
            json!({"minAvailable": "50%", "selector": {"matchLabels": {"app": "x"}}})
        );
        assert_eq!(
            pdb["status"],
            json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0})
        );
        let pdb = decoded(
            CREATE_PDB_MAX_UNAVAILABLE,
            "policy/v1",
            "PodDisruptionBudget",
        );
        assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    }

    #[test]
    fn times_become_rfc3339_and_micro_times_keep_microseconds() {
        // 2026-01-01T00:00:00Z, plus 123456789 ns for the MicroTime.
        let time = [int_field(1, 1_767_225_600), int_field(2, 123_456_789)].concat();
        let metadata = [len_field(1, b"l"), len_field(8, &time)].concat();
        let spec = [
            len_field(1, b"holder"),
            int_field(2, 0),
            len_field(3, &time),
        ]
        .concat();
        let raw = [len_field(1, &metadata), len_field(2, &spec)].concat();
        let lease = decode(
            &envelope("coordination.k8s.io/v1", "Lease", &raw),
            endpoint("coordination.k8s.io/v1", "Lease"),
        )
        .unwrap();
        assert_eq!(
            lease["metadata"]["creationTimestamp"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(
            lease["spec"],
            json!({
                "holderIdentity": "holder",
                // A pointer set to zero is kept.
                "leaseDurationSeconds": 0,
                "acquireTime": "2026-01-01T00:00:00.123456Z",
            })
        );
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn delete_options_keep_a_zero_grace_period() {
        let raw = [int_field(1, 0), len_field(4, b"Foreground")].concat();
        let opts = decode(
            &envelope("meta.k8s.io/v1", "DeleteOptions", &raw),
            endpoint("meta.k8s.io/v1", "DeleteOptions"),
        )
        .unwrap();
        assert_eq!(
            opts,
            json!({
                "kind": "DeleteOptions",
                "apiVersion": "meta.k8s.io/v1",
                "gracePeriodSeconds": 0,
                "propagationPolicy": "Foreground",
            })
        );
    }

    #[test]
    fn a_message_field_sent_twice_is_merged() {
        let raw = [
            len_field(1, &len_field(1, b"demo")),
            len_field(1, &len_field(3, b"ns")),
        ]
        .concat();
        let cm = decode(
            &envelope("v1", "ConfigMap", &raw),
            endpoint("v1", "ConfigMap"),
        )
        .unwrap();
        assert_eq!(
            cm["metadata"],
            json!({"name": "demo", "namespace": "ns", "creationTimestamp": null})
        );
    }

    #[test]
    fn the_endpoint_kind_fills_an_envelope_without_type_meta() {
        let mut body = MAGIC.to_vec();
        body.extend(len_field(2, &meta("demo")));
        let ns = decode(&body, endpoint("v1", "Namespace")).unwrap();
        assert_eq!(
            (ns["kind"].as_str(), ns["apiVersion"].as_str()),
            (Some("Namespace"), Some("v1"))
        );
        assert_eq!(
            decode(&body, None).unwrap_err(),
            ProtobufError::Malformed {
                message: format!(
                    "the object provided is unrecognized (must be of type Unknown): Object 'Kind' is missing in 'runtime.TypeMeta{{APIVersion:\"\", Kind:\"\"}}' ({})",
                    summarize(&body)
                )
            }
        );
    }

    #[test]
    fn a_kind_without_a_description_is_unsupported_media_type_not_a_guess() {
        let err = decode(&envelope("v1", "Pod", &meta("p")), endpoint("v1", "Pod")).unwrap_err();
        assert_eq!(err.code(), 415);
        assert_eq!(
            err.to_string(),
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
        );
    }

    #[test]
    fn a_field_number_without_a_description_is_unsupported_media_type() {
        let raw = [meta("cm"), len_field(9, b"?")].concat();
        let err = decode(
            &envelope("v1", "ConfigMap", &raw),
            endpoint("v1", "ConfigMap"),
        )
        .unwrap_err();
        assert!(
            matches!(&err, ProtobufError::Unsupported { detail, .. } if detail == "field 9 of ConfigMap is not described"),
            "{err:?}"
        );
        let managed = [len_field(1, &len_field(17, b""))].concat();
        let err = decode(&envelope("v1", "ConfigMap", &managed), None).unwrap_err();
        assert_eq!(err.code(), 415);
    }

    #[test]
    fn malformed_bodies_are_bad_requests_worded_as_the_real_decoder() {
        let ns = endpoint("v1", "Namespace");
        let bad = |body: &[u8]| match decode(body, ns).unwrap_err() {
            ProtobufError::Malformed { message } => message,
            other => panic!("not a 400: {other:?}"),
        };
        assert_eq!(
            bad(b"{}"),
            "the object provided is unrecognized (must be of type Namespace): provided data does not appear to be a protobuf message, expected prefix [107 56 115 0] ({})"
        );
        assert_eq!(
            bad(&MAGIC),
            "the object provided is unrecognized (must be of type Namespace): empty body (6b387300)"
        );
        assert_eq!(
            bad(b""),
            "the object provided is unrecognized (must be of type Namespace): empty data (<empty>)"
        );
        // The envelope cut short.
        let full = hex(CREATE_NAMESPACE);
        assert_eq!(
            bad(&full[..10]),
            "the object provided is unrecognized (must be of type Namespace): unexpected EOF (6b3873000a0f0a027631)"
        );
        // The object cut short: the envelope names its kind.
        let raw = meta("demo");
        let truncated = envelope("v1", "Namespace", &raw[..raw.len() - 1]);
        assert_eq!(
            bad(&truncated),
            "Namespace in version \"v1\" cannot be handled as a Namespace: unexpected EOF"
        );
        // A string field sent as a varint.
        let wrong = envelope("v1", "Namespace", &len_field(1, &int_field(1, 7)));
        assert_eq!(
            bad(&wrong),
            "Namespace in version \"v1\" cannot be handled as a Namespace: proto: wrong wireType = 0 for field Name"
        );
        // Field number 0 and wire type 4.
        let zero = envelope("v1", "Namespace", &[0x02, 0x00]);
        assert_eq!(
            bad(&zero),
            "Namespace in version \"v1\" cannot be handled as a Namespace: proto: Namespace: illegal tag 0 (wire type 2)"
        );
        let group = envelope("v1", "Namespace", &[0x0c]);
        assert_eq!(
            bad(&group),
            "Namespace in version \"v1\" cannot be handled as a Namespace: proto: Namespace: wiretype end group for non-group"
        );
        // A tag longer than ten varint bytes.
        let overflow = envelope(
            "v1",
            "Namespace",
            &[[0xff; 10].as_slice(), &[0x01]].concat(),
        );
        assert_eq!(
            bad(&overflow),
            "Namespace in version \"v1\" cannot be handled as a Namespace: proto: integer overflow"
        );
    }

    #[test]
    fn base64_pads_as_go_does() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"b"), "Yg==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(&[0xff, 0xfe, 0x00, 0x01]), "//4AAQ==");
    }
}
