//! [`ClusterError`]: why a cluster operation failed, classified, in one line.

/// Why a cluster operation failed. Each carries the cluster name; `Display` is one line naming
/// the cluster and what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The API server could not be reached: connection refused, name not resolved, timeout.
    #[error("cluster `{cluster}`: cannot reach {server} ({reason}); {check}")]
    Unreachable {
        /// Cluster name.
        cluster: String,
        /// The server URL.
        server: String,
        /// What happened: `connection refused`, `timed out`, ...
        reason: String,
        /// What to check.
        check: String,
    },
    /// 401: the credentials were rejected (expired or invalid token, certificate).
    #[error(
        "cluster `{cluster}`: the credentials of {identity} were rejected (401 Unauthorized); log in again or refresh the token"
    )]
    Unauthorized {
        /// Cluster name.
        cluster: String,
        /// Whose credentials: ``context `prod-eu-1` `` or `the in-cluster service account`.
        identity: String,
    },
    /// 403: RBAC refuses the request.
    #[error("cluster `{cluster}`: forbidden: berth may not {verb} {resource} (403); grant it the ClusterRole in deploy/rbac.yaml")]
    Forbidden {
        /// Cluster name.
        cluster: String,
        /// `list`, `get`, `patch`, `delete`.
        verb: String,
        /// `statefulsets.apps`, `namespaces`.
        resource: String,
        /// The server's message.
        message: String,
    },
    /// 403 from something other than RBAC: an admission plugin refused the request (a quota
    /// exceeded, Pod Security, a volume that cannot grow, a namespace being terminated).
    /// The server's message says what to change; no permission helps.
    #[error("cluster `{cluster}`: refused: {message} (403)")]
    Refused {
        /// Cluster name.
        cluster: String,
        /// The server's message.
        message: String,
    },
    /// 404: the object (or the kind, or its namespace) does not exist.
    #[error("cluster `{cluster}`: not found: {message}")]
    NotFound {
        /// Cluster name.
        cluster: String,
        /// The server's message.
        message: String,
    },
    /// 409: a field conflict with another manager, a stale resource version, or the object
    /// already exists.
    #[error("cluster `{cluster}`: conflict on {object}: {message}")]
    Conflict {
        /// Cluster name.
        cluster: String,
        /// The object, `Kind/namespace/name`.
        object: String,
        /// The server's message.
        message: String,
        /// The conflicting fields, from `details.causes`.
        fields: Vec<String>,
    },
    /// 422 (or 400): the server refused the object.
    #[error("cluster `{cluster}`: {object} is invalid: {message}")]
    Invalid {
        /// Cluster name.
        cluster: String,
        /// The object, `Kind/namespace/name`.
        object: String,
        /// The server's message.
        message: String,
        /// `(field, message)` from `details.causes`.
        causes: Vec<(String, String)>,
    },
    /// 429 or 5xx: worth retrying.
    #[error("cluster `{cluster}`: the API server failed to {verb} {resource} ({code} {message}); retry later")]
    Transient {
        /// Cluster name.
        cluster: String,
        /// `list`, `get`, `patch`, `delete`.
        verb: String,
        /// `statefulsets.apps`.
        resource: String,
        /// HTTP status code.
        code: u16,
        /// The server's message.
        message: String,
        /// How long the server asked the client to wait (`Retry-After`, or
        /// `details.retryAfterSeconds` of the Status), when it said.
        retry_after: Option<std::time::Duration>,
    },
    /// The kubeconfig, its context or the in-cluster config is unusable.
    #[error("cluster `{cluster}`: {message}; {help}")]
    Config {
        /// Cluster name.
        cluster: String,
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
    /// Not contacted: the cluster failed the last runs of a long-lived process (the daemon),
    /// which leaves it alone for a while.
    #[error(
        "cluster `{cluster}`: not contacted: it failed {failures} time(s) in a row, next attempt in {next_in} s; the last error: {last}"
    )]
    BackingOff {
        /// Cluster name.
        cluster: String,
        /// Failures in a row.
        failures: u32,
        /// Seconds until the next attempt.
        next_in: u64,
        /// The last error, one line.
        last: String,
    },
    /// The embedded store failed.
    #[error("cluster `{cluster}` (embedded): {message}")]
    Store {
        /// Cluster name.
        cluster: String,
        /// What failed.
        message: String,
    },
}

impl ClusterError {
    /// The cluster the error is about.
    pub fn cluster(&self) -> &str {
        match self {
            Self::Unreachable { cluster, .. }
            | Self::Unauthorized { cluster, .. }
            | Self::Forbidden { cluster, .. }
            | Self::Refused { cluster, .. }
            | Self::NotFound { cluster, .. }
            | Self::Conflict { cluster, .. }
            | Self::Invalid { cluster, .. }
            | Self::BackingOff { cluster, .. }
            | Self::Transient { cluster, .. }
            | Self::Config { cluster, .. }
            | Self::Store { cluster, .. } => cluster,
        }
    }

    /// Whether retrying the same request may succeed: throttling, server errors, an
    /// unreachable server.
    /// A 410 `Expired` (a continue token or resource version older than the server's
    /// compacted history) is not: the same request fails again, the listing must start over.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transient { code, .. } => *code != 410,
            Self::Unreachable { .. } => true,
            _ => false,
        }
    }

    /// Whether the error is a 410 `Expired`: what was asked for is older than the server's
    /// history; start the listing (or watch) again.
    pub fn is_expired(&self) -> bool {
        matches!(self, Self::Transient { code: 410, .. })
    }

    /// How long the server asked to wait before the next attempt, when it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the error is a 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// One line: newlines and runs of whitespace in a server message become single spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
