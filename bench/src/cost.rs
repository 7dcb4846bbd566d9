//! The cost model: US$ per month for 10,000 accounts in ap-northeast-1, from what this run
//! measured per action (DynamoDB calls and the items they touched, the endpoint's p50 as the
//! Lambda duration) under a usage mix stated here, with list prices as constants.

use std::fmt::Write as _;

use crate::latency::Measured;

/// List prices, ap-northeast-1 (Tokyo), on-demand, as AWS's pricing pages gave them when this was
/// written (2026-12; this machine has no internet, so they are not fetched: update them here).
mod price {
    /// Lambda, arm64, per GB-second.
    pub const LAMBDA_GB_S: f64 = 0.000_013_333_4;
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// API Gateway HTTP API, per request (first 300 million a month).
    pub const HTTP_API_REQUEST: f64 = 1.29 / 1e6;
    /// DynamoDB on-demand, per write request unit (1 KB; a transactional write is 2).
    pub const DYNAMODB_WRU: f64 = 0.715 / 1e6;
    /// DynamoDB on-demand, per read request unit (4 KB strongly consistent; transactional 2).
    pub const DYNAMODB_RRU: f64 = 0.1425 / 1e6;
    /// DynamoDB storage, per GB-month (standard table class).
    pub const DYNAMODB_GB_MONTH: f64 = 0.285;
    /// EventBridge Scheduler, per invocation (after the 14 million free a month).
    pub const SCHEDULER_INVOCATION: f64 = 1.00 / 1e6;
    /// Amazon SES, per message sent.
    pub const SES_MESSAGE: f64 = 0.10 / 1000.0;
    /// Secrets Manager, per secret per month, and per 10,000 API calls.
    pub const SECRET_MONTH: f64 = 0.40;
    pub const SECRET_CALL: f64 = 0.05 / 10_000.0;
    /// CloudWatch Logs ingestion, per GB.
    pub const LOGS_GB: f64 = 0.76;
}

const ACCOUNTS: f64 = 10_000.0;

/// One row of the usage mix: how often an account does it a month, which measured endpoint it
/// is, and the memory its function has in the template.
struct Use {
    what: &'static str,
    endpoint: &'static str,
    per_account_month: f64,
    memory_mb: f64,
}

/// The items of the hourly sync's transaction for a change the endpoint asks for (each a 2-WRU
/// transactional write): an address, its change, the account, the address's reservation, the
/// audit record and the directory's write; a cloud-mail password, the same without the account
/// and the address. 0: the endpoint's change is not the sync's.
fn sync_transaction_items(endpoint: &str) -> f64 {
    match endpoint {
        "PUT /api/cloud-mail/address" => 5.0,
        "PUT /api/cloud-mail/password" => 3.0,
        _ => 0.0,
    }
}

/// The usage mix (an assumption, stated): a person logs in about twice a week and looks at the
/// portal each time; changes something about once a month; a few change a password.
const MIX: [Use; 8] = [
    Use { what: "login", endpoint: "POST /api/session", per_account_month: 8.0, memory_mb: 512.0 },
    Use { what: "the menu after login", endpoint: "GET /api/me", per_account_month: 8.0, memory_mb: 256.0 },
    Use { what: "a page: remote access", endpoint: "GET /api/remote-access", per_account_month: 3.0, memory_mb: 256.0 },
    Use {
        what: "a page: cloud mail",
        endpoint: "GET /api/cloud-mail/address",
        per_account_month: 3.0,
        memory_mb: 256.0,
    },
    Use { what: "a page: applications", endpoint: "GET /api/applications", per_account_month: 2.0, memory_mb: 256.0 },
    Use {
        what: "a change: remote access",
        endpoint: "PUT /api/remote-access",
        per_account_month: 0.5,
        memory_mb: 256.0,
    },
    Use {
        what: "a change: cloud-mail address",
        endpoint: "PUT /api/cloud-mail/address",
        per_account_month: 0.1,
        memory_mb: 256.0,
    },
    Use {
        what: "a password change (cloud mail)",
        endpoint: "PUT /api/cloud-mail/password",
        per_account_month: 0.1,
        memory_mb: 512.0,
    },
];

/// Request units of one request: reads 1 RRU per item (strongly consistent, items under 4 KB —
/// an account item is well under 1 KB), transactional writes 2 WRU per item, other writes 1.
fn units(m: &Measured) -> (f64, f64) {
    let items = |op: &str| m.items.get(op).copied().unwrap_or(0) as f64;
    let reads = items("GetItem") + items("BatchGetItem") + items("Query") + 2.0 * items("TransactGetItems");
    let writes = 2.0 * items("TransactWriteItems")
        + items("PutItem")
        + items("UpdateItem")
        + items("DeleteItem")
        + items("BatchWriteItem");
    (reads, writes)
}

pub fn section(measured: &[Measured]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## Cost model: US$ per month for 10,000 accounts (ap-northeast-1)\n");
    let _ = writeln!(
        md,
        "From this run's measurements per action — the DynamoDB calls of one request and the items they touched (an SDK \
         interceptor), the endpoint's p50 as its Lambda duration (billed per ms) — under the usage mix below, with on-demand list \
         prices for Tokyo kept as constants in `bench/src/cost.rs` (2026-12; update them there). Lambda here runs on a faster \
         CPU share than 256 MB gets in AWS, so real durations are longer: the Lambda line is also given at five times the \
         measured duration.\n"
    );
    let _ = writeln!(md, "| action | per account a month | measured p50 ms | RRU | WRU | function MB |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    let (mut requests, mut gb_s, mut rru, mut wru) = (0.0, 0.0, 0.0, 0.0);
    for u in &MIX {
        let Some(m) = measured.iter().find(|m| m.name == u.endpoint) else { continue };
        let (r, w) = units(m);
        let n = u.per_account_month * ACCOUNTS;
        requests += n;
        gb_s += n * (u.memory_mb / 1024.0) * (m.p50_ms.ceil() / 1000.0);
        rru += n * r;
        wru += n * w;
        let _ = writeln!(
            md,
            "| {} (`{}`) | {} | {:.2} | {r:.0} | {w:.0} | {:.0} |",
            u.what, u.endpoint, u.per_account_month, m.p50_ms, u.memory_mb
        );
    }
    // The schedules: 720 hourly syncs and 30 daily sweeps a month, 512 MB each. Per run, one
    // query of the sparse index (1 RRU) and ~60 ms of Lambda; per change applied at minute 0, its
    // item read and one transaction, ~1.2 ms (the sync's measured cost per 1,000 due items is in
    // the table above). Remote access is applied by its own request, not by the sync.
    let runs = 720.0 + 30.0;
    let per_month = |u: &Use| u.per_account_month * ACCOUNTS;
    let changes: f64 = MIX.iter().filter(|u| sync_transaction_items(u.endpoint) > 0.0).map(per_month).sum();
    let schedule_gb_s = runs * 0.5 * 0.060 + changes * 0.5 * 0.0012;
    let schedule_rru = runs + changes;
    let schedule_wru: f64 = MIX.iter().map(|u| per_month(u) * 2.0 * sync_transaction_items(u.endpoint)).sum();
    // Mail: a notice or a confirmation for a tenth of the accounts a month.
    let mails = 0.1 * ACCOUNTS;
    // Storage: ~2 KB per account across its tables (account, audit, sign-ins within their TTL).
    let storage_gb = ACCOUNTS * 2.0 * 1024.0 / 1e9 * 20.0;
    // Logs: one request line (~300 bytes) and one access-log line (~400 bytes) per request.
    let logs_gb = requests * 700.0 / 1e9;
    // Secrets: the private key, read at the session's cold starts, the SMTP URL at a sender's
    // first message and the OIDC client secret at the first code exchange (say one cold start per
    // 50 logins, the others rarer).
    let secret_calls =
        MIX.iter().filter(|u| u.endpoint == "POST /api/session").map(|u| u.per_account_month).sum::<f64>() * ACCOUNTS
            / 50.0;

    let lambda = (requests + runs) * price::LAMBDA_REQUEST + (gb_s + schedule_gb_s) * price::LAMBDA_GB_S;
    let lambda_slow = (requests + runs) * price::LAMBDA_REQUEST + 5.0 * (gb_s + schedule_gb_s) * price::LAMBDA_GB_S;
    let api = requests * price::HTTP_API_REQUEST;
    let dynamo = (rru + schedule_rru) * price::DYNAMODB_RRU + (wru + schedule_wru) * price::DYNAMODB_WRU;
    let storage = storage_gb * price::DYNAMODB_GB_MONTH;
    let scheduler = runs * price::SCHEDULER_INVOCATION;
    let ses = mails * price::SES_MESSAGE;
    let secrets = 3.0 * price::SECRET_MONTH + secret_calls * price::SECRET_CALL;
    let logs = logs_gb * price::LOGS_GB;
    let total = lambda + api + dynamo + storage + scheduler + ses + secrets + logs;
    let _ = writeln!(md, "\n| component | a month | US$ |");
    let _ = writeln!(md, "|---|---|---:|");
    let _ = writeln!(
        md,
        "| Lambda (arm64) | {:.0} requests + {runs:.0} schedule runs, {:.0} GB-s | {lambda:.2} (at 5× the duration: {lambda_slow:.2}) |",
        requests,
        gb_s + schedule_gb_s
    );
    let _ = writeln!(md, "| API Gateway HTTP API | {requests:.0} requests | {api:.2} |");
    let _ = writeln!(
        md,
        "| DynamoDB requests | {:.0} RRU, {:.0} WRU | {dynamo:.2} |",
        rru + schedule_rru,
        wru + schedule_wru
    );
    let _ = writeln!(
        md,
        "| DynamoDB storage | {storage_gb:.2} GB (with 20× for indexes, audit and history) | {storage:.2} |"
    );
    let _ = writeln!(md, "| EventBridge Scheduler | {runs:.0} invocations | {scheduler:.4} |");
    let _ = writeln!(md, "| SES | {mails:.0} messages | {ses:.2} |");
    let _ = writeln!(md, "| Secrets Manager | 3 secrets, {secret_calls:.0} calls | {secrets:.2} |");
    let _ = writeln!(md, "| CloudWatch Logs | {logs_gb:.3} GB ingested | {logs:.2} |");
    let _ = writeln!(md, "| **total** | | **{total:.2}** |");
    let _ = writeln!(
        md,
        "\nThe fixed part (secrets, and the alarms and the dashboard, not counted here: two alarms per function at US$0.10 and one \
         dashboard at US$3 a month) outweighs what 10,000 accounts use; the per-use part grows linearly with accounts and mix.\n"
    );
    md
}
