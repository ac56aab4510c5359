//! The OpenAPI 3.1 document of the admin API, generated from the wire types.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::{FoundUsers, Problem, UsersBody, WriteResults};
use crate::target::{
    Authorization, Configuration, ConfigurationList, Identity, NewConfiguration, UserPage,
};

/// The document as `schemas/platform-api.openapi.json` holds it: pretty, trailing newline.
pub(crate) fn openapi_text() -> String {
    let mut text = serde_json::to_string_pretty(&document())
        .unwrap_or_else(|e| unreachable!("a serde_json::Value always serializes: {e}"));
    text.push('\n');
    text
}

fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    let schema = |value: schemars::Schema| value.to_value();
    let identity = schema(generator.subschema_for::<Identity>());
    let list = schema(generator.subschema_for::<ConfigurationList>());
    let configuration = schema(generator.subschema_for::<Configuration>());
    let new_configuration = schema(generator.subschema_for::<NewConfiguration>());
    let authorization = schema(generator.subschema_for::<Authorization>());
    let page = schema(generator.subschema_for::<UserPage>());
    let users = schema(generator.subschema_for::<UsersBody>());
    let results = schema(generator.subschema_for::<WriteResults>());
    let found = schema(generator.subschema_for::<FoundUsers>());
    let problem = schema(generator.subschema_for::<Problem>());
    let schemas: serde_json::Map<String, Value> =
        generator.take_definitions(true).into_iter().collect();

    // Any answer may state the quota and what is left of it; a client that reads them keeps
    // under it.
    let policy = json!({
        "RateLimit-Policy": { "$ref": "#/components/headers/RateLimit-Policy" },
        "RateLimit": { "$ref": "#/components/headers/RateLimit" },
    });
    let ok = |description: &str, schema: &Value| json!({ "description": description, "headers": policy, "content": { "application/json": { "schema": schema } } });
    let no_content = |description: &str| json!({ "description": description, "headers": policy });
    let errors = |codes: &[&str]| -> serde_json::Map<String, Value> {
        let mut map = serde_json::Map::new();
        for code in ["400", "401", "403", "429", "500", "503"]
            .iter()
            .chain(codes)
        {
            map.insert(
                (*code).to_owned(),
                json!({ "$ref": format!("#/components/responses/{}", response_name(code)) }),
            );
        }
        map
    };
    let with = |mut responses: serde_json::Map<String, Value>, status: &str, response: Value| {
        responses.insert(status.to_owned(), response);
        Value::Object(responses)
    };
    let id_parameter = json!({
        "name": "id", "in": "path", "required": true,
        "description": "The configuration's id, as `GET /configurations` gives it.",
        "schema": { "type": "string", "pattern": "^[0-9]{1,18}$" }
    });
    let users_body =
        json!({ "required": true, "content": { "application/json": { "schema": users } } });
    let bulk = |summary: &str, operation: &str| {
        json!({ "post": {
            "operationId": operation,
            "summary": summary,
            "parameters": [id_parameter],
            "requestBody": users_body,
            "responses": with(errors(&["404", "409", "415", "422"]), "200", ok("One result per user, in request order.", &results)),
        }})
    };
    let problem_response = |description: &str| json!({ "description": description, "content": { "application/problem+json": { "schema": problem } } });

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Scheduling platform admin API, as cutover uses it",
            "version": "1",
            "description": "The calls cutover makes to move a scheduling platform's Exchange integration from one \
                service-account configuration to another. Every write is idempotent: repeating one reports \
                `unchanged` per user and changes nothing. Errors are RFC 9457 problem details. Throttled \
                requests get 429 with Retry-After (seconds); a platform with a rate limit may state it on \
                every answer with RateLimit-Policy, and what is left of it with RateLimit, so clients can \
                keep under it.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": {
            "/whoami": { "get": {
                "operationId": "whoami",
                "summary": "The account the token acts as, its role, and the API's bulk limit.",
                "responses": with(errors(&[]), "200", ok("The caller.", &identity)),
            }},
            "/configurations": {
                "get": {
                    "operationId": "listConfigurations",
                    "summary": "Every configuration, and how many free slots remain.",
                    "responses": with(errors(&[]), "200", ok("The configurations.", &list)),
                },
                "post": {
                    "operationId": "createConfiguration",
                    "summary": "Create a configuration in a free slot; creating an existing display name returns it unchanged.",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": new_configuration } } },
                    "responses": with(errors(&["409", "415", "422"]), "200", ok("The configuration.", &configuration)),
                },
            },
            "/configurations/{id}/authorization": { "post": {
                "operationId": "authorize",
                "summary": "Start (or re-read) the authorization of an OAuth configuration.",
                "description": "A pending configuration answers with the URL where an admin signs in as the service account; the platform completes the OAuth exchange itself and reports the configuration connected (with the account that signed in) or in error. `restart=true` abandons a failed or completed authorization and starts a new one.",
                "parameters": [id_parameter, {
                    "name": "restart",
                    "in": "query",
                    "required": false,
                    "description": "Start over, even if the configuration is connected or failed.",
                    "schema": { "type": "boolean", "default": false },
                }],
                "responses": with(errors(&["404", "409"]), "200", ok("Where the authorization stands.", &authorization)),
            }},
            "/configurations/{id}/enable": bulk("Enable the configuration for users.", "enableUsers"),
            "/configurations/{id}/disable": bulk("Disable the configuration for users.", "disableUsers"),
            "/configurations/{id}/recheck": { "post": {
                "operationId": "recheckUsers",
                "summary": "Re-run the permission check for users now.",
                "parameters": [id_parameter],
                "requestBody": users_body,
                "responses": with(errors(&["404", "415", "422"]), "204", no_content("Re-check requested.")),
            }},
            "/configurations/{id}/disconnect": { "post": {
                "operationId": "disconnect",
                "summary": "Disconnect the configuration: its credentials are removed. Cannot be undone.",
                "parameters": [id_parameter],
                "responses": with(errors(&["404"]), "204", no_content("Disconnected (or already was).")),
            }},
            "/users": { "get": {
                "operationId": "listUsers",
                "summary": "A page of users in email order, with enabled configurations and latest sync results.",
                "parameters": [
                    { "name": "after", "in": "query", "required": false, "description": "Users whose email sorts after this.", "schema": { "type": "string", "maxLength": 320 } },
                    { "name": "limit", "in": "query", "required": false, "description": "At most this many users.", "schema": { "type": "integer", "minimum": 1, "maximum": super::MAX_PAGE } },
                    { "name": "cursors", "in": "query", "required": false, "description": "Also answer `cursors`: the `after` of every later page of this size, so a client can ask for them all at once. Hints only: a page asked for after one of them is the exact page after that email whatever changed since. A platform may leave them out.", "schema": { "type": "boolean" } },
                ],
                "responses": with(errors(&[]), "200", ok("A page of users.", &page)),
            }},
            "/users/query": { "post": {
                "operationId": "queryUsers",
                "summary": "The users with these emails (at most 1000), as a page shows them.",
                "description": "In email order, each once; emails the platform does not know are left out. A client reads a known set of users (a step's members) with it instead of paging through the whole tenant; a platform without it answers 404, and the client pages instead.",
                "requestBody": users_body,
                "responses": with(errors(&["415", "422"]), "200", ok("The users found.", &found)),
            }},
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "headers": {
                "RateLimit-Policy": {
                    "description": "Optional. The platform's quota, as the IETF httpapi draft (draft-ietf-httpapi-ratelimit-headers) writes it: a list of policies, each a name with `q` (requests) per `w` (seconds), such as `\"default\";q=200;w=1`. cutover paces itself just under the tightest policy whose window is at most 10 seconds, unless RateLimit says what is left of it; without either header it learns the rate from 429s.",
                    "schema": { "type": "string" },
                    "example": "\"default\";q=200;w=1",
                },
                "RateLimit": {
                    "description": "Optional. What is left of a policy's quota once this request was counted, as the same draft writes it: the policy's name with `r` (requests left) and `t` (seconds until it resets), such as `\"default\";r=150;t=1`. Where RateLimit-Policy states one short-window policy, cutover spends what is left instead of pacing: from an answer's `r` it subtracts every request it sent after that one and every one still unanswered when that one went, which bounds what is left wherever the windows fall. `r` must count every request counted before this one, shrink only by requests counted, and a request must stop counting a window after it was counted (a fixed window, a log of the last window's requests, a token bucket); a 429 for a request that bound let go makes cutover pace instead for the rest of the run.",
                    "schema": { "type": "string" },
                    "example": "\"default\";r=150;t=1",
                },
            },
            "schemas": schemas,
            "responses": {
                "BadRequest": problem_response("The request is malformed (a parameter or the body)."),
                "Unauthorized": problem_response("No valid bearer token."),
                "Forbidden": problem_response("The token's account may not do this."),
                "NotFound": problem_response("No such configuration."),
                "Conflict": problem_response("The request conflicts with the platform's state, such as no free slot."),
                "UnsupportedMediaType": problem_response("The body must be application/json."),
                "UnprocessableContent": problem_response("The body does not match the schema."),
                "TooManyRequests": {
                    "description": "Throttled: retry after the given number of seconds.",
                    "headers": {
                        "Retry-After": { "description": "Seconds to wait.", "schema": { "type": "integer", "minimum": 0 } },
                        "RateLimit-Policy": { "$ref": "#/components/headers/RateLimit-Policy" },
                        "RateLimit": { "$ref": "#/components/headers/RateLimit" },
                    },
                    "content": { "application/problem+json": { "schema": problem } },
                },
                "ServerError": problem_response("The platform failed; the call is safe to retry."),
                "Unavailable": problem_response("The platform is unavailable; the call is safe to retry."),
            },
        },
    })
}

fn response_name(code: &str) -> &'static str {
    match code {
        "400" => "BadRequest",
        "401" => "Unauthorized",
        "403" => "Forbidden",
        "404" => "NotFound",
        "409" => "Conflict",
        "415" => "UnsupportedMediaType",
        "422" => "UnprocessableContent",
        "429" => "TooManyRequests",
        "503" => "Unavailable",
        _ => "ServerError",
    }
}
