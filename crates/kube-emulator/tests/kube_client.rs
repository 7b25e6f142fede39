//! The test API server driven by the kube-rs client: discovery, dynamic LIST, server-side
//! apply, typed GET and error reasons.

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{self, Discovery, Scope};
use kube::{Client, Config};
use kube_emulator::ApiServer;
use kube_store::ObjectStore;
use serde_json::json;

/// A client of the administrator, through the server's kubeconfig.
async fn client(server: &ApiServer) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&server.kubeconfig("test")).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

#[test]
fn kube_client_discovery_list_and_apply() {
    let server = ApiServer::start_background(ObjectStore::in_memory().unwrap()).unwrap();
    // No controller writes statuses in between: the no-op apply below keeps the version.
    server.controllers().pause();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = client(&server).await;

        // Full discovery walks /api and /apis.
        let discovery = Discovery::new(client.clone()).run().await.unwrap();
        let apps = discovery.get("apps").expect("apps group");
        let (sts_res, caps) = apps.recommended_kind("StatefulSet").expect("statefulsets");
        assert_eq!(sts_res.plural, "statefulsets");
        assert_eq!(caps.scope, Scope::Namespaced);

        // Pinned discovery, as berth's backend does.
        let gvk = kube::api::GroupVersionKind::gvk("", "v1", "Namespace");
        let (ns_res, ns_caps) = discovery::pinned_kind(&client, &gvk).await.unwrap();
        assert_eq!(ns_caps.scope, Scope::Cluster);

        // SSA a namespace and a StatefulSet with the dynamic API.
        let params = PatchParams::apply("berth").force();
        let namespaces: Api<DynamicObject> = Api::all_with(client.clone(), &ns_res);
        namespaces
            .patch("kube-test", &params, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-test"}})))
            .await
            .unwrap();
        let sts_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "kube-test", &sts_res);
        let sts = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "labels": {"app": "db"}},
            "spec": {"serviceName": "db", "replicas": 1, "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]}}}
        });
        // Dry run first: no resourceVersion means "would be created".
        let dry = sts_api
            .patch("db", &PatchParams::apply("berth").force().dry_run(), &Patch::Apply(&sts))
            .await
            .unwrap();
        assert!(dry.metadata.resource_version.is_none());
        let applied = sts_api.patch("db", &params, &Patch::Apply(&sts)).await.unwrap();
        let rv = applied.metadata.resource_version.clone().unwrap();
        let again = sts_api.patch("db", &params, &Patch::Apply(&sts)).await.unwrap();
        assert_eq!(again.metadata.resource_version.unwrap(), rv, "no-op apply");

        // Dynamic LIST with a label selector and pagination.
        let page = sts_api.list(&ListParams::default().labels("app=db").limit(10)).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].metadata.name.as_deref(), Some("db"));

        // Typed GET sees the server defaults.
        let typed: Api<StatefulSet> = Api::namespaced(client.clone(), "kube-test");
        let s = typed.get("db").await.unwrap();
        let spec = s.spec.unwrap();
        assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
        let c = &spec.template.spec.unwrap().containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("IfNotPresent"));

        // Errors carry their reason: kube's helpers recognise them.
        let missing = typed.get("nope").await.unwrap_err();
        assert!(matches!(&missing, kube::Error::Api(s) if s.is_not_found()), "{missing:?}");
        let conflict = sts_api
            .patch("db", &PatchParams::apply("other"), &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"replicas": 4}})))
            .await
            .unwrap_err();
        assert!(matches!(&conflict, kube::Error::Api(s) if s.is_conflict()), "{conflict:?}");
        let mut bad = sts.clone();
        bad["spec"]["serviceName"] = json!("other");
        let invalid = sts_api.patch("db", &params, &Patch::Apply(&bad)).await.unwrap_err();
        assert!(matches!(&invalid, kube::Error::Api(s) if s.is_invalid()), "{invalid:?}");

        // Delete (Background) answers a Status; the object is gone. (Foreground would keep it,
        // marked, until the garbage collector has deleted its pods.)
        sts_api.delete("db", &DeleteParams::background()).await.unwrap();
        assert!(sts_api.get_opt("db").await.unwrap().is_none());
    });
    assert!(server.count("PATCH") >= 6);
}
