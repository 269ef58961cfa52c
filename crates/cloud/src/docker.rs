//! The Docker Engine API on its socket (`DOCKER_HOST`, else `unix:///var/run/docker.sock`):
//! `GET /info` for the host, `GET /containers/<hostname>/json` for weir's own container, as
//! the Collector's `docker` detector reads them.

use std::time::Duration;

use serde::Deserialize;

use super::{Attributes, Endpoint, Env, Error, get_json, push};

/// Where the engine is: `DOCKER_HOST` (`unix://` or `tcp://`, the latter asked over plain
/// HTTP), else the default socket.
pub fn endpoint(env: Env<'_>) -> String {
    match env("DOCKER_HOST").filter(|h| !h.is_empty()) {
        Some(host) => match host.strip_prefix("tcp://") {
            Some(address) => format!("http://{address}"),
            None => host,
        },
        None => "unix:///var/run/docker.sock".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Info {
    name: String,
    #[serde(rename = "OSType")]
    os_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspect {
    name: String,
    config: InspectConfig,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfig {
    image: String,
}

/// What the engine says of the host, and when `container` names weir's container (its host
/// name, which Docker sets to the container's id), of the container: `container.name`
/// without Docker's leading `/`, `container.image.name` the image it was started from.
pub async fn detect(
    endpoint: &Endpoint,
    container: Option<&str>,
    within: Duration,
) -> Result<Attributes, Error> {
    let info: Info = get_json(endpoint, "/info", &[], within).await?;
    let mut found = Attributes::new();
    push(&mut found, "host.name", info.name);
    push(&mut found, "os.type", os_type(&info.os_type));
    if let Some(container) = container {
        let path = format!("/containers/{container}/json");
        let inspect: Inspect = get_json(endpoint, &path, &[], within).await?;
        push(&mut found, "container.name", inspect.name.trim_start_matches('/'));
        push(&mut found, "container.image.name", inspect.config.image);
    }
    Ok(found)
}

/// Go's operating system names as the semantic conventions write them.
fn os_type(go: &str) -> String {
    match go {
        "dragonfly" => "dragonflybsd".to_owned(),
        "zos" => "z_os".to_owned(),
        other => other.to_owned(),
    }
}
