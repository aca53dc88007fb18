//! The OpenAPI document and Swagger UI.
//!
//! The document is generated once at start-up from the API's types and operations; the server
//! serves it (`/openapi.yaml`, `/openapi.json`), `customers-api openapi` prints it, and the
//! committed `openapi.yaml` must equal it byte for byte (a test checks). [`Spec::generate`]
//! changes what poem-openapi emits in these ways only:
//! - `additionalProperties: false` on the schemas that refuse unknown fields (poem-openapi
//!   cannot say it);
//! - each operation's error responses: poem-openapi lists every status of the one `ApiError`
//!   on every operation, in the same words; [`document_errors`] keeps the statuses the
//!   operation's table ([`api::OPERATION_ERRORS`]) lists, with that table's wording, and an
//!   example per status (poem-openapi has one example per schema, and the same
//!   `ErrorResponse` serves every error status);
//! - the tags in [`api::TAG_ORDER`] (poem-openapi sorts them by name), which is also the order
//!   of Swagger UI's sections;
//! - a described property of a named schema's type (an enum such as `IdentificationStatus`)
//!   is `{description, allOf: [$ref]}` ([`drop_repeated_all_of_members`]): poem-openapi adds
//!   a second `allOf` member that only repeats the description, which openapi-python-client
//!   cannot compose with an enum ("Cannot take allOf a non-object"), and drops the whole schema
//!   from the Python client;
//! - the YAML quotes every string a YAML 1.1 reader would take for something else
//!   ([`quote_for_yaml_1_1`]), so `/openapi.yaml` and `/openapi.json` say the same to every
//!   reader.

use std::sync::Arc;

use poem::{
    EndpointExt, IntoResponse, Response, Route, get, handler,
    web::{Data, Path, Redirect},
};
use serde_json::Value;
use utoipa_swagger_ui::Config;

use crate::{
    api::{self, errors::OperationErrors},
    error::{ApiError, Error},
    http::RouteTable,
    repo::Repository,
};

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
        drop_repeated_all_of_members(&mut document);
        document_errors(&mut document, api::OPERATION_ERRORS)?;
        order_tags(&mut document, api::TAG_ORDER)?;
        Ok(Spec {
            json: serde_json::to_string_pretty(&document)?,
            yaml: quote_for_yaml_1_1(&serde_yaml::to_string(&document)?),
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

/// Removes, everywhere in `document`, each inline `allOf` member that says nothing its schema
/// does not already say (poem-openapi's `{description, allOf: [$ref, {description}]}` for a
/// described field of a named type becomes `{description, allOf: [$ref]}`).
pub fn drop_repeated_all_of_members(document: &mut Value) {
    match document {
        Value::Object(schema) => {
            if let Some(Value::Array(members)) = schema.get("allOf") {
                let kept: Vec<Value> = members
                    .iter()
                    .filter(|member| {
                        let Some(member) = member.as_object() else {
                            return true;
                        };
                        member.contains_key("$ref")
                            || member.is_empty()
                            || member
                                .iter()
                                .any(|(key, value)| schema.get(key) != Some(value))
                    })
                    .cloned()
                    .collect();
                if !kept.is_empty() {
                    schema.insert("allOf".to_owned(), Value::Array(kept));
                }
            }
            schema.values_mut().for_each(drop_repeated_all_of_members);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_repeated_all_of_members),
        _ => {}
    }
}

/// Each operation's error responses as its table states them: the statuses it lists and no
/// other, each with the table's description and an example (the table's, else the status's
/// typical one from [`Error::documented_examples`]). Fails for an operation without a table,
/// a table without an operation, and a listed status the operation's response type lacks.
pub fn document_errors(document: &mut Value, tables: &[&[OperationErrors]]) -> anyhow::Result<()> {
    let typical = error_examples();
    let mut unused: Vec<&str> = tables
        .iter()
        .flat_map(|table| table.iter().map(|op| op.operation_id))
        .collect();
    let paths = document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| anyhow::anyhow!("the document has no paths"))?;
    for (path, operations) in paths.iter_mut() {
        let operations = operations.as_object_mut().into_iter().flatten();
        for (method, operation) in operations {
            let id = operation["operationId"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("{method} {path} has no operationId"))?
                .to_owned();
            let table = tables
                .iter()
                .flat_map(|table| table.iter())
                .find(|op| op.operation_id == id)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "operation {id} ({} {path}) does not state its errors: add it to the \
                         ERRORS table of its module in src/api/",
                        method.to_uppercase()
                    )
                })?;
            unused.retain(|other| *other != id);
            let responses = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| anyhow::anyhow!("operation {id} has no responses"))?;
            responses.retain(|status, _| {
                !is_error_status(status)
                    || table
                        .errors
                        .iter()
                        .any(|e| e.status.as_str() == status.as_str())
            });
            for error in table.errors {
                let status = error.status.as_str();
                let response = responses
                    .get_mut(status)
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| {
                        anyhow::anyhow!("operation {id} lists {status}, which it cannot answer")
                    })?;
                response.insert("description".to_owned(), error.description.into());
                let example = match (error.example, error.answered) {
                    (Some(build), _) => {
                        let error = build();
                        anyhow::ensure!(
                            error.status().as_str() == status,
                            "operation {id}: the example of {status} is a {}",
                            error.status()
                        );
                        Some(example_body(error)?)
                    }
                    (None, true) => typical.get(status).cloned(),
                    (None, false) => None,
                };
                let media = response
                    .get_mut("content")
                    .and_then(|content| content.get_mut("application/json"))
                    .and_then(Value::as_object_mut);
                if let (Some(media), Some(example)) = (media, example) {
                    media.insert("example".to_owned(), example);
                }
            }
        }
    }
    anyhow::ensure!(
        unused.is_empty(),
        "errors stated for operations the API does not have: {unused:?}"
    );
    Ok(())
}

fn is_error_status(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

/// The typical body of each error status, as the wire shows it.
fn error_examples() -> std::collections::HashMap<String, Value> {
    use poem_openapi::types::ToJSON;
    Error::documented_examples()
        .into_iter()
        .filter_map(|(status, body)| Some((status.as_str().to_owned(), body.to_json()?)))
        .collect()
}

/// The body `error` answers with, with the examples' request id.
fn example_body(error: Error) -> anyhow::Result<Value> {
    use poem_openapi::{payload::Json, types::ToJSON};
    let (ApiError::BadRequest(Json(body))
    | ApiError::Unauthorized(Json(body), _)
    | ApiError::Forbidden(Json(body))
    | ApiError::NotFound(Json(body))
    | ApiError::Conflict(Json(body))
    | ApiError::PayloadTooLarge(Json(body))
    | ApiError::Internal(Json(body))
    | ApiError::ServiceUnavailable(Json(body), _)
    | ApiError::RepositoryTimeout(Json(body))) = ApiError::from(error);
    let typical_id = Error::documented_examples()
        .first()
        .map(|(_, body)| body.request_id.clone())
        .unwrap_or_default();
    let body = crate::error::ErrorResponse {
        request_id: typical_id,
        ..body
    };
    body.to_json()
        .ok_or_else(|| anyhow::anyhow!("an ErrorResponse has no JSON form"))
}

/// Puts the document's tags in `order`; a tag missing from it is an error (it must be placed).
pub fn order_tags(document: &mut Value, order: &[&str]) -> anyhow::Result<()> {
    let Some(tags) = document.get_mut("tags").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    let mut positioned = Vec::with_capacity(tags.len());
    for tag in tags.drain(..) {
        let name = tag["name"].as_str().unwrap_or_default();
        let position = order
            .iter()
            .position(|known| *known == name)
            .ok_or_else(|| {
                anyhow::anyhow!("tag {name:?} is not in api::TAG_ORDER: give it its place there")
            })?;
        positioned.push((position, tag));
    }
    positioned.sort_by_key(|(position, _)| *position);
    tags.extend(positioned.into_iter().map(|(_, tag)| tag));
    Ok(())
}

/// serde_yaml writes YAML 1.2, where `2026-11-27T10:00:00+00:00`, `yes`, `1:20` or `0777`
/// are plain strings; a YAML 1.1 reader (PyYAML, SnakeYAML, many tools) reads them as a
/// timestamp, a bool, a sexagesimal or an octal number. This single-quotes every plain scalar,
/// key or value, that YAML 1.2 reads as a string and that YAML 1.1 might read as anything
/// else, so both read the same document. serde_yaml's output is block style, one scalar per
/// key or item, with plain scalars on one line: each line is `- ` items, then a key and a
/// value, or one scalar; block scalars (`|-`) are left alone.
pub fn quote_for_yaml_1_1(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + yaml.len() / 16);
    // Inside a block scalar: lines indented deeper than this column belong to it.
    let mut block_above: Option<usize> = None;
    for line in yaml.split_inclusive('\n') {
        let text = line.trim_end_matches('\n');
        let indent = text.len() - text.trim_start_matches(' ').len();
        if let Some(column) = block_above {
            if text.trim().is_empty() || indent > column {
                out.push_str(line);
                continue;
            }
            block_above = None;
        }
        let (mut column, mut item_column, mut rest) = (indent, indent, &text[indent..]);
        while let Some(after) = rest.strip_prefix("- ") {
            item_column = column;
            column += 2;
            rest = after;
        }
        out.push_str(&text[..column]);
        match split_mapping_entry(rest) {
            Some((key, value)) => {
                out.push_str(&quote_scalar(key));
                out.push(':');
                if let Some(value) = value {
                    out.push(' ');
                    out.push_str(&quote_scalar(value));
                    if value.starts_with(['|', '>']) {
                        block_above = Some(column);
                    }
                }
            }
            None => {
                out.push_str(&quote_scalar(rest));
                if rest.starts_with(['|', '>']) {
                    block_above = Some(item_column);
                }
            }
        }
        out.push_str(&line[text.len()..]);
    }
    out
}

/// `key: value` or `key:` (a value on the following lines) as key and value; `None` for a
/// scalar alone.
fn split_mapping_entry(text: &str) -> Option<(&str, Option<&str>)> {
    let key_end = match text.chars().next()? {
        quote @ ('\'' | '"') => quoted_scalar_end(text, quote)?,
        _ => text
            .find(": ")
            .or_else(|| text.ends_with(':').then(|| text.len() - 1))?,
    };
    let (key, rest) = text.split_at(key_end);
    match rest {
        ":" => Some((key, None)),
        _ => rest.strip_prefix(": ").map(|value| (key, Some(value))),
    }
}

/// The length of the quoted scalar that `text` starts with.
fn quoted_scalar_end(text: &str, quote: char) -> Option<usize> {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            '\'' if quote == '\'' && chars.peek().is_some_and(|(_, next)| *next == '\'') => {
                chars.next();
            }
            c if c == quote => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// `scalar` single-quoted when it is a plain string to YAML 1.2 that YAML 1.1 might not read as
/// a string; otherwise as it is.
fn quote_scalar(scalar: &str) -> std::borrow::Cow<'_, str> {
    let plain =
        !scalar.is_empty() && !scalar.starts_with(['\'', '"', '|', '>', '[', '{', '&', '*', '!']);
    let string_to_yaml_1_2 = || {
        matches!(
            serde_yaml::from_str::<serde_yaml::Value>(scalar),
            Ok(serde_yaml::Value::String(_))
        )
    };
    if plain && may_not_be_a_string_in_yaml_1_1(scalar) && string_to_yaml_1_2() {
        format!("'{}'", scalar.replace('\'', "''")).into()
    } else {
        scalar.into()
    }
}

/// A conservative superset of YAML 1.1's implicit types other than `str`: bool (`y`, `no`,
/// `on`, ...), null (`~`, `null`), int and float (decimal, octal `0777`, binary, hex,
/// sexagesimal `1:20`, `.inf`, `.nan`), timestamp (`2026-11-27...`), merge (`<<`) and value
/// (`=`). Every one starts with a digit, a sign, `.`, `~`, `<` or `=`, or is one of the words.
fn may_not_be_a_string_in_yaml_1_1(scalar: &str) -> bool {
    const WORDS: [&str; 10] = [
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~",
    ];
    scalar.starts_with(|c: char| c.is_ascii_digit() || "+-.~<=".contains(c))
        || WORDS.iter().any(|word| scalar.eq_ignore_ascii_case(word))
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

#[cfg(test)]
mod tests {
    use poem::http::StatusCode;
    use serde_json::json;

    use super::*;
    use crate::api::errors::{Documented, INTERNAL};

    fn generated() -> Value {
        serde_json::from_str(&api::service(Repository::disconnected()).spec()).unwrap()
    }

    #[test]
    fn an_operation_that_states_no_errors_fails_the_document() {
        let mut tables: Vec<&[OperationErrors]> = api::OPERATION_ERRORS.to_vec();
        tables.pop();
        let err = document_errors(&mut generated(), &tables).unwrap_err();
        assert!(
            err.to_string().contains("does not state its errors"),
            "{err}"
        );
    }

    #[test]
    fn errors_stated_for_no_operation_fail_the_document() {
        const STRAY: &[OperationErrors] = &[OperationErrors {
            operation_id: "getNothing",
            errors: &[INTERNAL],
        }];
        let mut tables: Vec<&[OperationErrors]> = api::OPERATION_ERRORS.to_vec();
        tables.push(STRAY);
        let err = document_errors(&mut generated(), &tables).unwrap_err();
        assert!(err.to_string().contains("getNothing"), "{err}");
    }

    #[test]
    fn a_status_the_operation_cannot_answer_fails_the_document() {
        const HEALTH: &[OperationErrors] = &[
            OperationErrors {
                operation_id: "getHealth",
                errors: &[INTERNAL],
            },
            OperationErrors {
                operation_id: "getReadiness",
                errors: &[INTERNAL],
            },
        ];
        let tables: Vec<&[OperationErrors]> = api::OPERATION_ERRORS
            .iter()
            .map(|table| {
                if table.iter().any(|op| op.operation_id == "getHealth") {
                    HEALTH
                } else {
                    table
                }
            })
            .collect();
        let err = document_errors(&mut generated(), &tables).unwrap_err();
        assert!(err.to_string().contains("cannot answer"), "{err}");
    }

    #[test]
    fn an_example_of_another_status_fails_the_document() {
        const READY: &[OperationErrors] = &[
            OperationErrors {
                operation_id: "getHealth",
                errors: &[],
            },
            OperationErrors {
                operation_id: "getReadiness",
                errors: &[Documented::new(StatusCode::SERVICE_UNAVAILABLE, "x")
                    .example(|| Error::Timeout)],
            },
        ];
        let tables: Vec<&[OperationErrors]> = api::OPERATION_ERRORS
            .iter()
            .map(|table| {
                if table.iter().any(|op| op.operation_id == "getReadiness") {
                    READY
                } else {
                    table
                }
            })
            .collect();
        let err = document_errors(&mut generated(), &tables).unwrap_err();
        assert!(err.to_string().contains("example of 503"), "{err}");
    }

    #[test]
    fn tags_take_their_listed_places_and_an_unlisted_tag_fails() {
        let mut document =
            json!({"tags": [{"name": "Service"}, {"name": "Customers"}, {"name": "Categories"}]});
        order_tags(&mut document, api::TAG_ORDER).unwrap();
        assert_eq!(
            document["tags"],
            json!([{"name": "Customers"}, {"name": "Categories"}, {"name": "Service"}])
        );
        let mut document = json!({"tags": [{"name": "Invoices"}]});
        assert!(order_tags(&mut document, api::TAG_ORDER).is_err());
    }

    #[test]
    fn strings_a_yaml_1_1_reader_would_misread_are_quoted() {
        let risky = [
            "2026-11-27T10:00:00+00:00",
            "2026-11-27",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "n",
            "~",
            "1:20",
            "190:20:30.15",
            "0777",
            "0b1010",
            "0x1F",
            "1_000",
            ".inf",
            "-.inf",
            ".NaN",
            "1.0.0",
            "<<",
            "=",
            "0190f3c2-7b1e-7c3a-9f00-5e1d2c3b4a59",
            "0'clock",
        ];
        let mut object = serde_json::Map::new();
        for (i, text) in risky.iter().enumerate() {
            object.insert(format!("k{i}"), json!(text));
            object.insert((*text).to_owned(), json!([text, {"nested": text}]));
        }
        object.insert("number".into(), json!(200.0));
        object.insert("flag".into(), json!(true));
        object.insert("none".into(), Value::Null);
        let document = Value::Object(object);
        let yaml = quote_for_yaml_1_1(&serde_yaml::to_string(&document).unwrap());
        // YAML 1.2 (serde_yaml) still reads the same document...
        assert_eq!(serde_yaml::from_str::<Value>(&yaml).unwrap(), document);
        // ...and none of the risky strings is left plain, as key, value or item.
        for text in risky {
            for line in yaml.lines() {
                let line = line.trim_start().trim_start_matches("- ");
                assert_ne!(line, text, "{text} left plain in:\n{yaml}");
                assert!(
                    !line.starts_with(&format!("{text}:")),
                    "{text} key left plain"
                );
                assert!(
                    !line.ends_with(&format!(": {text}")),
                    "{text} value left plain"
                );
            }
        }
        // Numbers, bools and nulls stay what they are; block scalars are untouched.
        assert!(yaml.contains("number: 200.0\n") && yaml.contains("flag: true\n"));
        assert!(yaml.contains("none: null\n"), "{yaml}");
        assert!(yaml.contains("k0: '2026-11-27T10:00:00+00:00'\n"), "{yaml}");
    }

    #[test]
    fn block_scalars_are_left_as_they_are() {
        let document = json!({
            "a": {"multi": "line one\nyes\n1:20", "after": "yes"},
            "list": ["line one\n  0777", "on"],
            "b": "off",
        });
        let plain = serde_yaml::to_string(&document).unwrap();
        let yaml = quote_for_yaml_1_1(&plain);
        assert_eq!(serde_yaml::from_str::<Value>(&yaml).unwrap(), document);
        assert!(yaml.contains("\n    yes\n    1:20\n"), "{yaml}");
        assert!(yaml.contains("after: 'yes'\n"), "{yaml}");
        assert!(
            yaml.contains("- 'on'\n") && yaml.contains("b: 'off'\n"),
            "{yaml}"
        );
    }
}
