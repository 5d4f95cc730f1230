//! The HTTP(S) transport of the CLI: ureq with rustls, blocking, no redirects followed (they would
//! resend a grant or a token somewhere the user did not name), bounded time and answer size.

use std::time::Duration;

use ureq::Agent;

use crate::cli::api::{ApiRequest, ApiResponse, Method, Transport};

/// Largest answer read; the API's answers are a few hundred bytes.
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);

pub struct UreqTransport {
    agent: Agent,
}

impl UreqTransport {
    pub fn new() -> Self {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(TOTAL_TIMEOUT))
            .user_agent(concat!("portico-cli/", env!("CARGO_PKG_VERSION")))
            .build();
        UreqTransport { agent: config.into() }
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport for UreqTransport {
    fn send(&self, request: &ApiRequest) -> Result<ApiResponse, String> {
        let authorization = request.bearer.as_ref().map(|token| format!("Bearer {}", token.expose_secret()));
        let result = match request.method {
            Method::Post => {
                let mut builder = self.agent.post(&request.url).header("accept", "application/json");
                if let Some(authorization) = &authorization {
                    builder = builder.header("authorization", authorization);
                }
                let body = request.json_body.as_deref().unwrap_or("{}");
                builder.header("content-type", "application/json").send(body)
            }
            Method::Delete => {
                let mut builder = self.agent.delete(&request.url).header("accept", "application/json");
                if let Some(authorization) = &authorization {
                    builder = builder.header("authorization", authorization);
                }
                builder.call()
            }
        };
        // ureq's errors describe the connection (host, I/O, TLS), never the request's headers or body.
        let mut response = result.map_err(|e| e.to_string())?;
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header("content-type");
        let location = header("location");
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| format!("reading the answer: {e}"))?;
        Ok(ApiResponse { status, content_type, location, body })
    }
}
