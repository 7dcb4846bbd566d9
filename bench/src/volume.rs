//! The cost of the hourly sync and the daily sweep as the number of accounts grows, with 1% of
//! them due: items read per due item and time per 1,000 due items should stay flat
//! (R-SYNC-2, R-SWEEP-2: an index by due time, never a scan).

use std::fmt::Write as _;
use std::time::Instant;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::Duration;
use eccs_local::engine::Storage;
use shared::domain::account::{Account, Department, Kind, Name};
use shared::store::changes::Change;
use shared::store::{Item, accounts, to_item};
use shared::usecase::schedule::{self, Limits};
use shared::{App, Ctx};

async fn write_all(app: &App, table: &str, items: Vec<Item>) -> Result<(), String> {
    for chunk in items.chunks(25) {
        let requests = chunk
            .iter()
            .map(|i| {
                PutRequest::builder()
                    .set_item(Some(i.clone()))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut pending = Some(std::collections::HashMap::from([(table.to_owned(), requests)]));
        while let Some(request) = pending.take().filter(|r| !r.is_empty()) {
            let out = app
                .store
                .db
                .batch_write_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(|e| format!("{e}"))?;
            pending = out.unprocessed_items;
        }
    }
    Ok(())
}

fn account(id: String, today: chrono::NaiveDate, due: bool) -> Account {
    Account {
        initial_password_changed: true,
        // A due right ended yesterday: today's sweep invalidates it.
        right_until: Some(if due { today - Duration::days(1) } else { today + Duration::days(700) }),
        ..Account::new(
            id.clone(),
            Kind::Student,
            Name { ja: "学生".into(), en: "Student".into() },
            Department { code: "D05".into(), ja: "農学部".into(), en: "Faculty of Agriculture".into() },
            (today - Duration::days(400), today + Duration::days(700)),
            format!("{id}@g.ecc.u-tokyo.ac.jp"),
        )
    }
}

pub async fn run(volumes: &[u64]) -> Result<String, String> {
    let mut md = String::new();
    let _ = writeln!(md, "## Sync and sweep cost\n");
    let _ = writeln!(
        md,
        "A fresh engine per size, 1% of the accounts with a due cloud-mail change (sync) and 1% with a right that ended \
         yesterday (sweep); each schedule run once with no budget. Items read are counted from the SDK's responses.\n"
    );
    let _ = writeln!(
        md,
        "| accounts | due | sync: items read per due | sync: ms per 1,000 due | sweep: items read per due | sweep: ms per 1,000 due |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|");
    for &n in volumes {
        eprintln!("  {n} accounts");
        let (_engine, app, _) =
            eccs_local::prepare(&Storage::Memory, "http://127.0.0.1:3000", None, false, None).await?;
        let now = app.clock.now();
        let today = shared::domain::time::today(now);
        let due = (n / 100).max(1);
        let mut items = Vec::with_capacity(n as usize);
        let mut changes = Vec::with_capacity(due as usize);
        for i in 0..n {
            let id = format!("{:010}", 4_000_000_000 + i);
            let is_due = i % 100 == 0;
            items.push(accounts::account_item(&account(id.clone(), today, is_due)).map_err(|e| e.to_string())?);
            if is_due {
                let change =
                    Change::mail_address(&id, &format!("vol.{i}@g.ecc.u-tokyo.ac.jp"), now - Duration::hours(2));
                changes.push(to_item(&change).map_err(|e| e.to_string())?);
            }
        }
        write_all(&app, &app.store.tables.accounts, items).await?;
        write_all(&app, &app.store.tables.changes, changes).await?;
        let limits = Limits { item_budget: usize::MAX, deadline: None };
        let ctx = Ctx::for_schedule(app.clock.now(), schedule::SYNC, None);
        let t = Instant::now();
        let sync = schedule::sync(&app.deps(), &ctx, limits, &app.run_settings()).await.map_err(|e| e.to_string())?;
        let sync_ms = t.elapsed().as_secs_f64() * 1000.0;
        let ctx = Ctx::for_schedule(app.clock.now(), schedule::SWEEP, None);
        let t = Instant::now();
        let sweep = schedule::sweep(&app.deps(), &ctx, limits, &app.run_settings()).await.map_err(|e| e.to_string())?;
        let sweep_ms = t.elapsed().as_secs_f64() * 1000.0;
        if sync.applied != due || sweep.applied != due {
            return Err(format!("{n}: sync applied {} and sweep {} of {due}", sync.applied, sweep.applied));
        }
        let _ = writeln!(
            md,
            "| {n} | {due} | {:.2} | {:.0} | {:.2} | {:.0} |",
            sync.items_read as f64 / due as f64,
            sync_ms * 1000.0 / due as f64,
            sweep.items_read as f64 / due as f64,
            sweep_ms * 1000.0 / due as f64
        );
    }
    let _ = writeln!(
        md,
        "\nItems read per due item stay at 1: both schedules query their sparse index for what is due and read nothing else. \
         Each due item is then its own transaction (and, for the sync, a write to the directory first), eight at a time.\n"
    );
    Ok(md)
}
