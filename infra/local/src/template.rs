//! Reads `infra/template.yaml` — the one source of truth — for what the local runner needs: the
//! DynamoDB tables (keys, indexes, TTL), each function's crate, HTTP routes and schedules.
//! CloudFormation tags (`!Ref`, `!GetAtt`, `!Sub`) are read as their plain values and not needed
//! here, except in a schedule's name: the template scopes it to the stack
//! (`!Sub "${AWS::StackName}-sync-hourly"`, R-OPS-3), and locally the stack is [`LOCAL_STACK_NAME`].

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

/// The template, compiled into the runner so that it works from any directory.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// The stack name `${AWS::StackName}` stands for locally: schedules are `eccs-sync-hourly` and
/// `eccs-sweep-daily`, the names the `schedules` ops function defaults to.
pub const LOCAL_STACK_NAME: &str = "eccs";

/// A name as the local stack would have it: `${AWS::StackName}-sync-hourly` → `eccs-sync-hourly`.
pub fn local_stack_name(name: &str) -> String {
    name.replace("${AWS::StackName}", LOCAL_STACK_NAME)
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyElement {
    pub name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    pub name: String,
    pub keys: Vec<KeyElement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub logical_id: String,
    /// `AccountsTable` → `accounts`, `LoginAttemptsTable` → `login-attempts`.
    pub local_name: String,
    /// `(name, type)`: S, N or B.
    pub attributes: Vec<(String, String)>,
    pub keys: Vec<KeyElement>,
    pub indexes: Vec<Index>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub method: String,
    /// With `{param}` segments, as in the template.
    pub path: String,
    /// `Auth: Authorizer: NONE`: reachable without a token.
    pub open: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// As the local stack names it (`eccs-sync-hourly`).
    pub name: String,
    /// `cron(0 * * * ? *)`.
    pub expression: String,
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub logical_id: String,
    /// `../functions/me` → `me`.
    pub dir: String,
    pub code_uri: String,
    pub build_method: Option<String>,
    pub routes: Vec<Route>,
    pub schedules: Vec<Schedule>,
    /// The environment variables the function is given (names only).
    pub environment: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub tables: Vec<Table>,
    pub functions: Vec<Function>,
}

impl Template {
    pub fn embedded() -> Result<Self, String> {
        Self::parse(TEMPLATE)
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        Self::parse(&std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| format!("template: {e}"))?;
        let doc = docs.first().ok_or("template: empty")?;
        let resources = doc["Resources"].as_hash().ok_or("template: no Resources")?;
        let mut tables = Vec::new();
        let mut functions = Vec::new();
        for (id, resource) in resources {
            let id = id.as_str().unwrap_or_default().to_owned();
            match resource["Type"].as_str() {
                Some("AWS::DynamoDB::Table") => tables.push(table(&id, &resource["Properties"])?),
                Some("AWS::Serverless::Function") => functions.push(function(&id, resource)?),
                _ => {}
            }
        }
        Ok(Self { tables, functions })
    }

    pub fn function(&self, dir: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.dir == dir)
    }
}

/// `AccountsTable` → `accounts`; `LoginAttemptsTable` → `login-attempts`.
pub fn local_table_name(logical_id: &str) -> String {
    let stem = logical_id.strip_suffix("Table").unwrap_or(logical_id);
    let mut out = String::new();
    for (i, c) in stem.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn text(y: &Yaml, what: &str) -> Result<String, String> {
    y.as_str().map(str::to_owned).ok_or_else(|| format!("template: {what} missing"))
}

fn key_elements(y: &Yaml, what: &str) -> Result<Vec<KeyElement>, String> {
    y.as_vec()
        .ok_or_else(|| format!("template: {what} KeySchema missing"))?
        .iter()
        .map(|k| Ok(KeyElement { name: text(&k["AttributeName"], what)?, key_type: text(&k["KeyType"], what)? }))
        .collect()
}

fn table(id: &str, p: &Yaml) -> Result<Table, String> {
    let attributes = p["AttributeDefinitions"]
        .as_vec()
        .ok_or_else(|| format!("template: {id} AttributeDefinitions missing"))?
        .iter()
        .map(|a| Ok((text(&a["AttributeName"], id)?, text(&a["AttributeType"], id)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let indexes = match p["GlobalSecondaryIndexes"].as_vec() {
        Some(list) => list
            .iter()
            .map(|g| Ok(Index { name: text(&g["IndexName"], id)?, keys: key_elements(&g["KeySchema"], id)? }))
            .collect::<Result<Vec<_>, String>>()?,
        None => vec![],
    };
    let ttl = &p["TimeToLiveSpecification"];
    Ok(Table {
        logical_id: id.to_owned(),
        local_name: local_table_name(id),
        attributes,
        keys: key_elements(&p["KeySchema"], id)?,
        indexes,
        ttl_attribute: (ttl["Enabled"].as_bool() == Some(true))
            .then(|| ttl["AttributeName"].as_str().map(str::to_owned))
            .flatten(),
    })
}

fn function(id: &str, resource: &Yaml) -> Result<Function, String> {
    let p = &resource["Properties"];
    let code_uri = text(&p["CodeUri"], id)?;
    let dir = code_uri.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned();
    let mut routes = Vec::new();
    let mut schedules = Vec::new();
    if let Some(events) = p["Events"].as_hash() {
        for event in events.values() {
            let ep = &event["Properties"];
            match event["Type"].as_str() {
                Some("HttpApi") => routes.push(Route {
                    method: text(&ep["Method"], id)?.to_ascii_uppercase(),
                    path: text(&ep["Path"], id)?,
                    open: ep["Auth"]["Authorizer"].as_str() == Some("NONE"),
                }),
                Some("ScheduleV2") => schedules.push(Schedule {
                    name: local_stack_name(&text(&ep["Name"], id)?),
                    expression: text(&ep["ScheduleExpression"], id)?,
                    timezone: ep["ScheduleExpressionTimezone"].as_str().unwrap_or("UTC").to_owned(),
                }),
                _ => {}
            }
        }
    }
    let environment = p["Environment"]["Variables"]
        .as_hash()
        .map(|h| h.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Ok(Function {
        logical_id: id.to_owned(),
        dir,
        code_uri,
        build_method: resource["Metadata"]["BuildMethod"].as_str().map(str::to_owned),
        routes,
        schedules,
        environment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_template_declares_tables_routes_and_schedules() {
        let t = Template::embedded().unwrap();
        let accounts = t.tables.iter().find(|t| t.local_name == "accounts").unwrap();
        assert_eq!(accounts.indexes[0].name, "sweep-due");
        let attempts = t.tables.iter().find(|t| t.local_name == "login-attempts").unwrap();
        assert_eq!(attempts.ttl_attribute.as_deref(), Some("expires"));
        let session = t.function("session").unwrap();
        assert_eq!(
            session.routes,
            vec![
                Route { method: "POST".into(), path: "/api/session".into(), open: true },
                Route { method: "POST".into(), path: "/api/session/second-factor".into(), open: true },
            ]
        );
        let sync = t.function("sync-hourly").unwrap();
        assert_eq!(sync.schedules[0].expression, "cron(0 * * * ? *)");
        assert_eq!(sync.schedules[0].timezone, "Asia/Tokyo");
        assert_eq!(sync.schedules[0].name, "eccs-sync-hourly");
        assert_eq!(t.function("sweep-daily").unwrap().schedules[0].name, "eccs-sweep-daily");
    }

    #[test]
    fn local_names_follow_the_logical_ids() {
        assert_eq!(local_table_name("AccountsTable"), "accounts");
        assert_eq!(local_table_name("LoginAttemptsTable"), "login-attempts");
    }
}
