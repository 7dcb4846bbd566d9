//! [`Ctx`]: who is acting, when and from where — read once per request or schedule run, so that
//! every rule and every audit record of one action sees the same instant (R-AUD-1).

use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::domain::time;

#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    pub source_ip: String,
    /// The browser, as API Gateway saw its User-Agent (R-CRED-2); empty for schedules.
    pub user_agent: String,
    /// `GET /api/me`, or the schedule's name.
    pub route: String,
    pub now: DateTime<Utc>,
    pub started: Instant,
}

impl Ctx {
    /// From an API Gateway HTTP API (payload 2.0) request, at `now` (read once from the clock:
    /// [`crate::App::ctx`]).
    pub fn at(now: DateTime<Utc>, req: &Request) -> Self {
        let (request_id, source_ip, route, user_agent) = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(c)) => (
                c.request_id.clone(),
                c.http.source_ip.clone(),
                c.route_key.clone().unwrap_or_else(|| format!("{} {}", req.method(), req.uri().path())),
                c.http.user_agent.clone(),
            ),
            _ => (None, None, format!("{} {}", req.method(), req.uri().path()), None),
        };
        let user_agent = user_agent
            .or_else(|| req.headers().get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned));
        Self {
            request_id: request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            source_ip: source_ip.unwrap_or_default(),
            user_agent: user_agent.unwrap_or_default(),
            route,
            now,
            started: Instant::now(),
        }
    }

    /// For a schedule run or an ops invocation.
    pub fn for_schedule(now: DateTime<Utc>, name: &str, execution_id: Option<String>) -> Self {
        Self {
            request_id: execution_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            source_ip: String::new(),
            user_agent: String::new(),
            route: name.to_owned(),
            now,
            started: Instant::now(),
        }
    }

    pub fn today(&self) -> NaiveDate {
        time::today(self.now)
    }
}
