//! Hand-built configurations for tests of rendering (and of later stages).

use std::collections::BTreeMap;

use crate::spec::model::*;
use crate::spec::types::{
    BackupFormat, BackupKind, BackupLocation, DriftMode, LocationKind, Member, Role, SubjectKind,
};
use crate::values::Quantity;

fn q(s: &str) -> Quantity {
    Quantity(s.to_string())
}

fn src<T>(value: T, origin: Origin) -> Sourced<T> {
    Sourced { value, origin }
}

fn location(name: &str, spec: BackupLocation) -> Location {
    Location {
        name: name.to_string(),
        kind: spec.kind,
        spec,
    }
}

fn base_location(kind: LocationKind) -> BackupLocation {
    BackupLocation {
        kind,
        path: None,
        url: None,
        bucket: None,
        endpoint: None,
        region: None,
        credentials_secret: None,
        node_id: 1,
    }
}

/// A local volume location.
pub fn pvc_location() -> Location {
    location(
        "local",
        BackupLocation {
            path: Some("backups".into()),
            ..base_location(LocationKind::Pvc)
        },
    )
}

/// An HTTP location.
pub fn http_location() -> Location {
    location(
        "archive",
        BackupLocation {
            url: Some("http://backup-store.storage.svc:8090/".into()),
            path: Some("kwdb".into()),
            credentials_secret: Some("archive-credentials".into()),
            ..base_location(LocationKind::Http)
        },
    )
}

/// An S3 location.
pub fn s3_location() -> Location {
    location(
        "s3",
        BackupLocation {
            bucket: Some("db-backups".into()),
            path: Some("prod".into()),
            endpoint: Some("https://minio.storage.svc:9000".into()),
            region: Some("eu-central-1".into()),
            credentials_secret: Some("s3-credentials".into()),
            node_id: 2,
            ..base_location(LocationKind::S3)
        },
    )
}

fn database(replicas: u32, paused: bool) -> Database {
    Database {
        engine: "kwdb".into(),
        image: "kwdb/kwdb".into(),
        version: src("3.1.0".into(), Origin::Platform),
        image_ref: "kwdb/kwdb:3.1.0".into(),
        client_image: "kwdb/kwdb:3.1.0".into(),
        replicas: src(replicas, Origin::Tenant),
        paused,
        storage: src(q("20Gi"), Origin::Platform),
        storage_class: None,
        cpu: src(q("1"), Origin::Platform),
        memory: src(q("2Gi"), Origin::Platform),
        cpu_limit: None,
        port: 26257,
        http_port: 8080,
        databases: vec!["defaultdb".into()],
    }
}

fn quota() -> Quota {
    Quota {
        cpu: src(q("8"), Origin::Tier),
        memory: src(q("16Gi"), Origin::Tier),
        storage: src(q("200Gi"), Origin::Tier),
        pods: src(20, Origin::Tier),
    }
}

fn member(name: &str, kind: SubjectKind, role: Role, ns: Option<&str>) -> TenantMember {
    TenantMember::from_spec(
        &Member {
            name: name.into(),
            kind,
            role,
            namespace: ns.map(Into::into),
        },
        "tenant-acme",
    )
}

/// A tenant with the fewest features: one database node, no members, no backups.
pub fn minimal_tenant(name: &str) -> Tenant {
    Tenant {
        name: name.into(),
        display_name: name.into(),
        tier: "small".into(),
        cluster: "local".into(),
        namespace: format!("tenant-{name}"),
        source_file: format!("tenants/{name}.toml"),
        backup_file: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        deletion_protection: true,
        quota: quota(),
        max_db_replicas: 3,
        members: vec![],
        database: database(1, false),
        allow_from: vec![],
        schedules: vec![],
        restores: vec![],
    }
}

/// Three tenants of different shapes:
/// - `acme`: three nodes, members of every kind, `allow_from`, pvc and http schedules and a
///   restore from a schedule at a point in time;
/// - `globex`: one node, no members, an s3 schedule (paused) and a restore from a path;
/// - `initech`: a paused three-node database with a storage class and CPU limit, labels and
///   annotations, on another cluster.
pub fn sample_config() -> Config {
    let mut acme = minimal_tenant("acme");
    acme.display_name = "ACME Corp".into();
    acme.tier = "large".into();
    acme.backup_file = Some("backups/acme.toml".into());
    acme.database = database(3, false);
    acme.database.databases = vec!["defaultdb".into(), "sensors".into()];
    acme.members = vec![
        member("carol@acme.example", SubjectKind::User, Role::Admin, None),
        member("alice@acme.example", SubjectKind::User, Role::Admin, None),
        member("ci", SubjectKind::ServiceAccount, Role::Editor, None),
        member("acme-devs", SubjectKind::Group, Role::Editor, None),
        member(
            "auditor",
            SubjectKind::ServiceAccount,
            Role::Viewer,
            Some("compliance"),
        ),
    ];
    acme.allow_from = vec!["tenant-globex".into(), "monitoring".into()];
    acme.schedules = vec![
        BackupSchedule {
            name: "nightly".into(),
            cron: "0 2 * * *".into(),
            timezone: Some("Europe/Berlin".into()),
            location: pvc_location(),
            kind: BackupKind::Full,
            format: BackupFormat::Csv,
            databases: vec!["defaultdb".into(), "sensors".into()],
            retention: RetentionModel {
                keep_last: Some(7),
                keep_within: Some("14d".into()),
                keep_within_seconds: Some(14 * 86400),
            },
            paused: false,
        },
        BackupSchedule {
            name: "hourly".into(),
            cron: "@hourly".into(),
            timezone: None,
            location: http_location(),
            kind: BackupKind::Full,
            format: BackupFormat::Sql,
            databases: vec!["sensors".into()],
            retention: RetentionModel {
                keep_last: Some(24),
                keep_within: None,
                keep_within_seconds: None,
            },
            paused: false,
        },
    ];
    acme.restores = vec![RestoreRequest {
        name: "before-migration".into(),
        from_schedule: Some("nightly".into()),
        from_path: None,
        location: pvc_location(),
        point_in_time: Some("2026-03-01T00:00:00Z".into()),
        point_in_time_unix: Some(1_772_323_200),
        source_tenant: "acme".into(),
        databases: vec!["sensors".into()],
    }];

    let mut globex = minimal_tenant("globex");
    globex.backup_file = Some("backups/globex.toml".into());
    globex.schedules = vec![BackupSchedule {
        name: "weekly".into(),
        cron: "0 3 * * 0".into(),
        timezone: None,
        location: s3_location(),
        kind: BackupKind::Full,
        format: BackupFormat::Csv,
        databases: vec!["defaultdb".into()],
        retention: RetentionModel {
            keep_last: None,
            keep_within: Some("8w".into()),
            keep_within_seconds: Some(8 * 7 * 86400),
        },
        paused: true,
    }];
    globex.restores = vec![RestoreRequest {
        name: "seed".into(),
        from_schedule: None,
        from_path: Some("prod/acme/nightly/20260101T020000Z".into()),
        location: s3_location(),
        point_in_time: None,
        point_in_time_unix: None,
        source_tenant: "globex".into(),
        databases: vec!["defaultdb".into()],
    }];

    let mut initech = minimal_tenant("initech");
    initech.cluster = "eu-1".into();
    initech.database = database(3, true);
    initech.database.storage_class = Some("fast-ssd".into());
    initech.database.cpu_limit = Some(q("2"));
    initech.labels = BTreeMap::from([("cost-center".to_string(), "cc-42".to_string())]);
    initech.annotations =
        BTreeMap::from([("example.com/owner".to_string(), "team-tps".to_string())]);
    initech.deletion_protection = false;

    Config {
        platform_name: "dbaas".into(),
        revision: Some("0123456789abcdef".into()),
        clusters: BTreeMap::from([
            (
                "local".to_string(),
                Cluster {
                    name: "local".into(),
                    target: ClusterTarget::Embedded,
                },
            ),
            (
                "eu-1".to_string(),
                Cluster {
                    name: "eu-1".into(),
                    target: ClusterTarget::Kubeconfig {
                        context: "eu-1".into(),
                        path: None,
                    },
                },
            ),
        ]),
        tenants: vec![acme, globex, initech],
        common_labels: BTreeMap::from([("platform".to_string(), "dbaas".to_string())]),
        policy: PolicyModel {
            prune: true,
            drift: DriftMode::Report,
            max_deletions: 25,
            allow_destroy: Vec::new(),
            apply_concurrency: 8,
        },
        database_engine: "kwdb".into(),
        dashboard: Default::default(),
        pod_security: Default::default(),
    }
}

/// `n` tenants shaped like the sample ones (for timing).
pub fn many_tenants(n: usize) -> Config {
    let mut config = sample_config();
    let shapes = config.tenants.clone();
    config.tenants = (0..n)
        .map(|i| {
            let mut t = shapes[i % shapes.len()].clone();
            t.name = format!("t{i:05}");
            t.namespace = format!("tenant-t{i:05}");
            t.source_file = format!("tenants/t{i:05}.toml");
            t.backup_file = Some(format!("backups/t{i:05}.toml"));
            for r in &mut t.restores {
                r.source_tenant = t.name.clone();
            }
            t
        })
        .collect();
    config
}
