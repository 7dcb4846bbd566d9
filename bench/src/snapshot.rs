//! Every item of every table of the engine, kept once and put back before each timed start, so
//! that every start of a function meets the same data. Many sample events change what they
//! touch: a wrong activation key counts toward the lockout (the sixth start would time a 429),
//! a password change ends the token the event carries.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

type Item = HashMap<String, AttributeValue>;

struct Table {
    name: String,
    key: Vec<String>,
    items: HashMap<String, Item>,
}

pub struct Snapshot {
    tables: Vec<Table>,
}

/// An item's key, as text (AttributeValue is not `Hash`).
fn key_of(key: &[String], item: &Item) -> String {
    key.iter().map(|k| format!("{k}={:?};", item.get(k))).collect()
}

async fn scan(db: &Client, table: &str, key: &[String]) -> Result<HashMap<String, Item>, String> {
    let mut items = HashMap::new();
    let mut start: Option<Item> = None;
    loop {
        let out = db
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| format!("scan {table}: {e:?}"))?;
        for item in out.items.unwrap_or_default() {
            items.insert(key_of(key, &item), item);
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(items),
        }
    }
}

impl Snapshot {
    pub async fn take(db: &Client) -> Result<Self, String> {
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let out = db
                .list_tables()
                .set_exclusive_start_table_name(after.take())
                .send()
                .await
                .map_err(|e| format!("list tables: {e:?}"))?;
            names.extend(out.table_names.unwrap_or_default());
            match out.last_evaluated_table_name {
                Some(last) => after = Some(last),
                None => break,
            }
        }
        let mut tables = Vec::new();
        for name in names {
            let described = db.describe_table().table_name(&name).send().await.map_err(|e| format!("{name}: {e:?}"))?;
            let key: Vec<String> = described
                .table
                .and_then(|t| t.key_schema)
                .unwrap_or_default()
                .into_iter()
                .map(|k| k.attribute_name)
                .collect();
            let items = scan(db, &name, &key).await?;
            tables.push(Table { name, key, items });
        }
        Ok(Self { tables })
    }

    /// Puts back what changed and deletes what was added since [`Snapshot::take`].
    pub async fn restore(&self, db: &Client) -> Result<(), String> {
        for t in &self.tables {
            let now = scan(db, &t.name, &t.key).await?;
            for (k, item) in &now {
                if !t.items.contains_key(k) {
                    let key: Item = t.key.iter().filter_map(|a| Some((a.clone(), item.get(a)?.clone()))).collect();
                    db.delete_item()
                        .table_name(&t.name)
                        .set_key(Some(key))
                        .send()
                        .await
                        .map_err(|e| format!("{}: {e:?}", t.name))?;
                }
            }
            for (k, item) in &t.items {
                if now.get(k) != Some(item) {
                    db.put_item()
                        .table_name(&t.name)
                        .set_item(Some(item.clone()))
                        .send()
                        .await
                        .map_err(|e| format!("{}: {e:?}", t.name))?;
                }
            }
        }
        Ok(())
    }
}
