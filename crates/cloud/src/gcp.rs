//! Google Cloud: the metadata server (`/computeMetadata/v1/`, header `Metadata-Flavor:
//! Google`) and the variables each platform sets, read as the Collector's `gcp` detector reads
//! them. The platform is the first that matches: Bare Metal Solution (`BMS_*`), GKE
//! (`KUBERNETES_SERVICE_HOST` and the `cluster-location` instance attribute), Cloud Functions
//! (`FUNCTION_TARGET`), Cloud Run services (`K_CONFIGURATION`), jobs (`CLOUD_RUN_JOB`) and
//! worker pools (`CLOUD_RUN_WORKER_POOL`), App Engine standard (`GAE_ENV=standard`) and flex
//! (`GAE_SERVICE`), then Compute Engine (the instance's machine type answers).

use std::time::Duration;

use super::{Attributes, Endpoint, Env, Error, get_text, push};

/// Where the metadata server is: `GCE_METADATA_HOST` (a host or `host:port`), else the
/// link-local address.
pub fn endpoint(env: Env<'_>) -> String {
    match env("GCE_METADATA_HOST").filter(|h| !h.is_empty()) {
        Some(host) => format!("http://{host}"),
        None => "http://169.254.169.254".to_owned(),
    }
}

/// The metadata server at `endpoint`.
struct Metadata<'a> {
    endpoint: &'a Endpoint,
    within: Duration,
}

impl Metadata<'_> {
    /// A value, or `None` when the server does not define it (404).
    async fn get(&self, path: &str) -> Result<Option<String>, Error> {
        let path = format!("/computeMetadata/v1/{path}");
        let headers = [("Metadata-Flavor", "Google")];
        match get_text(self.endpoint, &path, &headers, self.within).await {
            Ok(value) => Ok(Some(value)),
            Err(Error::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn need(&self, path: &str) -> Result<String, Error> {
        self.get(path)
            .await?
            .ok_or_else(|| Error::Invalid(format!("the metadata server does not define {path}")))
    }
}

/// What the metadata server and the environment say. Off Google Cloud (nothing answers at
/// the metadata address) the answer is [`Error::Unreachable`].
pub async fn detect(
    endpoint: &Endpoint,
    env: Env<'_>,
    within: Duration,
) -> Result<Attributes, Error> {
    let has = |name: &str| env(name).is_some();
    let var = |name: &str| env(name).unwrap_or_default();
    let mut found = Attributes::new();
    push(&mut found, "cloud.provider", "gcp");
    if ["BMS_PROJECT_ID", "BMS_REGION", "BMS_INSTANCE_ID"].iter().all(|v| !var(v).is_empty()) {
        push(&mut found, "cloud.platform", "gcp_bare_metal_solution");
        push(&mut found, "cloud.account.id", var("BMS_PROJECT_ID"));
        push(&mut found, "cloud.region", var("BMS_REGION"));
        push(&mut found, "host.name", var("BMS_INSTANCE_ID"));
        return Ok(found);
    }
    let server = Metadata { endpoint, within };
    push(&mut found, "cloud.account.id", server.need("project/project-id").await?);
    let location = server.get("instance/attributes/cluster-location").await?;
    if let (true, Some(location)) = (has("KUBERNETES_SERVICE_HOST"), location) {
        push(&mut found, "cloud.platform", "gcp_kubernetes_engine");
        // `us-central1` is a regional cluster's location, `us-central1-c` a zonal one's.
        if location.matches('-').count() >= 2 {
            push(&mut found, "cloud.region", region_of_zone(&location));
            push(&mut found, "cloud.availability_zone", location);
        } else {
            push(&mut found, "cloud.region", location);
        }
        if let Some(name) = server.get("instance/attributes/cluster-name").await? {
            push(&mut found, "k8s.cluster.name", name);
        }
        push(&mut found, "host.id", server.need("instance/id").await?);
        // Not given to every workload identity: the rest stands without it.
        if let Ok(Some(name)) = server.get("instance/name").await {
            push(&mut found, "host.name", name);
        }
        return Ok(found);
    }
    let serverless = if has("FUNCTION_TARGET") {
        Some(("gcp_cloud_functions", var("K_SERVICE"), var("K_REVISION")))
    } else if has("K_CONFIGURATION") {
        let version = env("CLOUD_RUN_REVISION").unwrap_or_else(|| var("K_REVISION"));
        Some(("gcp_cloud_run", var("K_SERVICE"), version))
    } else if has("CLOUD_RUN_JOB") {
        Some(("gcp_cloud_run", var("CLOUD_RUN_JOB"), String::new()))
    } else if has("CLOUD_RUN_WORKER_POOL") {
        Some(("gcp_cloud_run", var("CLOUD_RUN_WORKER_POOL"), var("CLOUD_RUN_REVISION")))
    } else {
        None
    };
    if let Some((platform, name, version)) = serverless {
        push(&mut found, "cloud.platform", platform);
        push(&mut found, "cloud.region", last_segment(&server.need("instance/region").await?));
        push(&mut found, "faas.name", name);
        push(&mut found, "faas.version", version);
        push(&mut found, "faas.instance", server.need("instance/id").await?);
        if has("CLOUD_RUN_JOB") {
            push(&mut found, "gcp.cloud_run.job.execution", var("CLOUD_RUN_EXECUTION"));
            push(&mut found, "gcp.cloud_run.job.task_index", var("CLOUD_RUN_TASK_INDEX"));
        }
        return Ok(found);
    }
    if var("GAE_ENV") == "standard" || has("GAE_SERVICE") {
        push(&mut found, "cloud.platform", "gcp_app_engine");
        let zone = last_segment(&server.need("instance/zone").await?);
        let region = if var("GAE_ENV") == "standard" {
            last_segment(&server.need("instance/region").await?)
        } else {
            region_of_zone(&zone)
        };
        push(&mut found, "cloud.region", region);
        push(&mut found, "cloud.availability_zone", zone);
        push(&mut found, "faas.name", var("GAE_SERVICE"));
        push(&mut found, "faas.version", var("GAE_VERSION"));
        push(&mut found, "faas.instance", var("GAE_INSTANCE"));
        return Ok(found);
    }
    let Some(machine_type) = server.get("instance/machine-type").await? else {
        // On Google Cloud, on no platform the detector knows: the project alone.
        return Ok(found);
    };
    push(&mut found, "cloud.platform", "gcp_compute_engine");
    let zone = last_segment(&server.need("instance/zone").await?);
    push(&mut found, "cloud.region", region_of_zone(&zone));
    push(&mut found, "cloud.availability_zone", zone);
    push(&mut found, "host.type", machine_type);
    push(&mut found, "host.id", server.need("instance/id").await?);
    let name = server.need("instance/name").await?;
    push(&mut found, "host.name", name.clone());
    push(&mut found, "gcp.gce.instance.name", name);
    if let Some(hostname) = server.get("instance/hostname").await? {
        push(&mut found, "gcp.gce.instance.hostname", hostname);
    }
    if let Some(created_by) = server.get("instance/attributes/created-by").await?
        && let Some((scope, location, manager)) = instance_group_manager(&created_by)
    {
        push(&mut found, "gcp.gce.instance_group_manager.name", manager);
        push(&mut found, &format!("gcp.gce.instance_group_manager.{scope}"), location);
    }
    Ok(found)
}

/// `projects/1/zones/us-central1-a` → `us-central1-a`.
fn last_segment(value: &str) -> String {
    value.rsplit('/').next().unwrap_or(value).to_owned()
}

/// `us-central1-a` → `us-central1`.
pub(crate) fn region_of_zone(zone: &str) -> String {
    match zone.rsplit_once('-') {
        Some((region, _)) if region.contains('-') => region.to_owned(),
        _ => zone.to_owned(),
    }
}

/// `projects/p/zones/us-central1-a/instanceGroupManagers/web` → (`zone`, location, `web`);
/// `regions/...` gives `region`.
fn instance_group_manager(created_by: &str) -> Option<(&'static str, &str, &str)> {
    let parts: Vec<&str> = created_by.split('/').collect();
    let ["projects", project, scope, location, "instanceGroupManagers", manager] = parts[..] else {
        return None;
    };
    let scope = match scope {
        "zones" => "zone",
        "regions" => "region",
        _ => return None,
    };
    (!project.is_empty() && !location.is_empty() && !manager.is_empty())
        .then_some((scope, location, manager))
}
