//! The OpenAPI document and Swagger UI.
//!
//! The document is generated once at start-up from the API's types and operations; the server
//! serves it (`/openapi.yaml`, `/openapi.json`), `customers-api openapi` prints it, and the
//! committed `openapi.yaml` must equal it byte for byte (a test checks). [`Spec::generate`]
//! adds what poem-openapi cannot emit, and nothing else: `additionalProperties: false` on the
//! schemas that refuse unknown fields, and an example per error status (poem-openapi has one
//! example per schema, and the same `ErrorResponse` serves every error status).

use std::sync::Arc;

use poem::{
    EndpointExt, IntoResponse, Response, Route, get, handler,
    web::{Data, Path, Redirect},
};
use serde_json::Value;
use utoipa_swagger_ui::Config;

use crate::{api, error::Error, http::RouteTable, repo::Repository};

pub struct Spec {
    pub json: String,
    pub yaml: String,
    document: Value,
}

impl Spec {
    pub fn generate(service: &poem_openapi::OpenApiService<api::Api, ()>) -> anyhow::Result<Self> {
        let mut document: Value = serde_json::from_str(&service.spec())?;
        for name in api::types::CLOSED_SCHEMAS {
            let schema = document
                .pointer_mut(&format!("/components/schemas/{name}"))
                .and_then(Value::as_object_mut)
                .ok_or_else(|| anyhow::anyhow!("schema {name} is missing from the document"))?;
            schema.insert("additionalProperties".to_owned(), Value::Bool(false));
        }
        add_error_examples(&mut document);
        Ok(Spec {
            json: serde_json::to_string_pretty(&document)?,
            yaml: serde_yaml::to_string(&document)?,
            document,
        })
    }

    /// The document with no database behind it, for `customers-api openapi` and tests.
    pub fn offline() -> anyhow::Result<Self> {
        Self::generate(&api::service(Repository::disconnected()))
    }

    /// Every documented path and method, plus the document's own routes, for `Allow`.
    pub fn route_table(&self) -> RouteTable {
        let mut table = RouteTable::default();
        if let Some(paths) = self.document.get("paths").and_then(Value::as_object) {
            for (path, operations) in paths {
                for method in operations.as_object().into_iter().flat_map(|o| o.keys()) {
                    table.add(path, method);
                }
            }
        }
        for path in ["/openapi.yaml", "/openapi.json", "/docs", "/docs/{file}"] {
            table.add(path, "GET");
        }
        table
    }

    /// Whether `path` is one of [`Spec::routes`]' (all else is the API's).
    pub fn serves(path: &str) -> bool {
        matches!(path, "/openapi.yaml" | "/openapi.json" | "/docs") || path.starts_with("/docs/")
    }

    /// `/openapi.yaml`, `/openapi.json`, and Swagger UI at `/docs`.
    pub fn routes(self: Arc<Self>) -> Route {
        let swagger = Arc::new(
            Config::new(["/openapi.json"])
                .try_it_out_enabled(true)
                .persist_authorization(true),
        );
        Route::new()
            .at("/openapi.yaml", get(openapi_yaml).data(self.clone()))
            .at("/openapi.json", get(openapi_json).data(self))
            .at("/docs", get(docs_redirect))
            .at("/docs/*path", get(docs_file).data(swagger))
    }
}

/// Sets each error response's example to a typical body for its status.
fn add_error_examples(document: &mut Value) {
    use poem_openapi::types::ToJSON;
    let examples: Vec<(String, Option<Value>)> = Error::documented_examples()
        .into_iter()
        .map(|(status, body)| (status.as_u16().to_string(), body.to_json()))
        .collect();
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let operations = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|operations| operations.values_mut());
    for operation in operations {
        for (status, example) in &examples {
            let media = operation
                .pointer_mut(&format!("/responses/{status}/content/application~1json"))
                .and_then(Value::as_object_mut);
            if let (Some(media), Some(example)) = (media, example) {
                media.insert("example".to_owned(), example.clone());
            }
        }
    }
}

#[handler]
fn openapi_yaml(spec: Data<&Arc<Spec>>) -> impl IntoResponse {
    spec.yaml
        .clone()
        .with_content_type("application/yaml; charset=utf-8")
}

#[handler]
fn openapi_json(spec: Data<&Arc<Spec>>) -> impl IntoResponse {
    spec.json
        .clone()
        .with_content_type("application/json; charset=utf-8")
}

#[handler]
fn docs_redirect() -> Redirect {
    Redirect::permanent("/docs/")
}

/// Swagger UI's files, compiled into the binary (utoipa-swagger-ui's `vendored` feature).
#[handler]
fn docs_file(path: Path<String>, config: Data<&Arc<Config<'static>>>) -> Response {
    match utoipa_swagger_ui::serve(&path, config.0.clone()) {
        Ok(Some(file)) => file
            .bytes
            .into_owned()
            .with_content_type(file.content_type)
            .into_response(),
        Ok(None) => Error::NotFound(format!("no such file: /docs/{}", path.0)).into_response(),
        Err(e) => Error::Internal(anyhow::anyhow!("swagger ui: {e}")).into_response(),
    }
}
