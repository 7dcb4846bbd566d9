//! The embedded DynamoDB engine: dynoxide (SQLite underneath) served in-process on a loopback
//! port, so the real aws-sdk-dynamodb client talks real HTTP to it. Tables are created from the
//! template's own definitions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use dynoxide::Database;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::template::{KeyElement, Template};
use shared::store::Store;

/// Where the engine keeps its data.
#[derive(Debug, Clone)]
pub enum Storage {
    Memory,
    /// A folder; the database is `eccs.db` inside it.
    Dir(PathBuf),
    /// Another DynamoDB endpoint (DynamoDB Local, moto_server); nothing is started, and the
    /// tables get `prefix` so that several services can share it.
    External {
        endpoint: String,
        prefix: String,
    },
}

/// A running engine. Dropping it leaves the server running until the runtime ends; [`Engine::stop`]
/// stops it (the fault tests use that to take the database away mid-request).
pub struct Engine {
    pub endpoint: String,
    /// Where the embedded engine listens (`None` for an external one).
    pub addr: Option<SocketAddr>,
    /// `None` for an external engine.
    db: Option<Database>,
    shutdown: std::sync::Mutex<Option<oneshot::Sender<()>>>,
}

impl Engine {
    pub async fn start(storage: &Storage) -> Result<Self, String> {
        let db = match storage {
            Storage::Memory => Database::memory(),
            Storage::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                Database::new(&dir.join("eccs.db").to_string_lossy())
            }
            Storage::External { endpoint, .. } => {
                return Ok(Self { endpoint: endpoint.clone(), addr: None, db: None, shutdown: Default::default() });
            }
        }
        .map_err(|e| format!("dynoxide: {e}"))?;
        Self::serve(db, "127.0.0.1:0").await
    }

    /// Whether this is the embedded engine (which can be stopped and restarted).
    pub fn is_embedded(&self) -> bool {
        self.db.is_some()
    }

    async fn serve(db: Database, addr: &str) -> Result<Self, String> {
        let listener = TcpListener::bind(addr).await.map_err(|e| format!("bind {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (tx, rx) = oneshot::channel::<()>();
        let served = db.clone();
        tokio::spawn(async move {
            let _ = dynoxide::server::serve_with_shutdown(listener, served, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(Self {
            endpoint: format!("http://{addr}"),
            addr: Some(addr),
            db: Some(db),
            shutdown: std::sync::Mutex::new(Some(tx)),
        })
    }

    /// Stops serving (new connections are refused; the data stays).
    pub fn stop(&self) {
        if let Some(tx) = self.shutdown.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(());
        }
    }

    /// Serves the same data again on the same port.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let (Some(db), Some(addr)) = (self.db.clone(), self.addr) else {
            return Err("an external engine is not ours to restart".into());
        };
        let addr = addr.to_string();
        for _ in 0..50 {
            match Self::serve(db.clone(), &addr).await {
                Ok(again) => {
                    *self = again;
                    return Ok(());
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        Err(format!("could not serve again on {addr}"))
    }
}

/// The default data folder, `.local/` in the working directory.
pub fn default_data_dir() -> PathBuf {
    Path::new(".local").to_path_buf()
}

/// Creates every table of the template that does not exist yet (with its indexes and TTL), under
/// the name the store uses for it. Returns the names created.
pub async fn create_tables(store: &Store, template: &Template) -> Result<Vec<String>, String> {
    let mut existing = Vec::new();
    let mut start = None;
    loop {
        let out = store
            .db
            .list_tables()
            .set_exclusive_start_table_name(start)
            .send()
            .await
            .map_err(|e| format!("list tables: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        existing.extend(out.table_names.unwrap_or_default());
        start = out.last_evaluated_table_name;
        if start.is_none() {
            break;
        }
    }
    let mut created = Vec::new();
    for table in &template.tables {
        let name =
            store.tables.name_of(&table.local_name).ok_or_else(|| format!("no table named {}", table.local_name))?;
        if existing.iter().any(|e| e == name) {
            continue;
        }
        let attributes = table
            .attributes
            .iter()
            .map(|(name, ty)| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::from(ty.as_str()))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let indexes = table
            .indexes
            .iter()
            .map(|i| {
                GlobalSecondaryIndex::builder()
                    .index_name(&i.name)
                    .set_key_schema(Some(key_schema(&i.keys)?))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        store
            .db
            .create_table()
            .table_name(name)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema(&table.keys)?))
            .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| format!("create {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        if let Some(attr) = &table.ttl_attribute {
            store
                .db
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(attr)
                        .enabled(true)
                        .build()
                        .map_err(|e| e.to_string())?,
                )
                .send()
                .await
                .map_err(|e| {
                    format!("ttl {}: {}", table.local_name, aws_sdk_dynamodb::error::DisplayErrorContext(e))
                })?;
        }
        created.push(table.local_name.clone());
    }
    Ok(created)
}

fn key_schema(keys: &[KeyElement]) -> Result<Vec<KeySchemaElement>, String> {
    keys.iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}
