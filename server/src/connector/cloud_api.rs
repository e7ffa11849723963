//! The WhatsApp Cloud API client.
//!
//! A tower stack over reqwest: each attempt has its own timeout; the retry policy sends again
//! only when the failure proves the message was not accepted (Meta's retryable codes, 5xx, 429, a
//! refused connection), with exponential backoff and jitter. A timeout or a connection lost after
//! the request left is *ambiguous* and is never retried here: retrying could send twice, and the
//! status webhook settles it. Every send carries an idempotency key header, which the simulator
//! honours and Meta ignores.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rand::Rng as _;
use reqwest::Method;
use serde::de::DeserializeOwned;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt as _};
use url::Url;

use super::errors::CloudApiError;
use super::wire::{
    GraphErrorBody, MarkRead, MediaInfo, MediaUploaded, PhoneNumberInfo, SendRequest, SendResponse,
    SuccessResponse, TemplateCreated, TemplateInfo, TemplateList,
};
use crate::secret::Secret;

/// The header that carries the per-message idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "x-switchboard-idempotency-key";

/// Where and as whom to call the Graph API for one business number.
#[derive(Clone, Debug)]
pub struct NumberEndpoint {
    /// Base URL including the version, e.g. `https://graph.facebook.com/v23.0`.
    pub graph_api_url: Url,
    pub phone_number_id: String,
    pub access_token: Secret,
}

impl NumberEndpoint {
    fn url(&self, path: &str) -> Result<Url, CloudApiError> {
        let base = self.graph_api_url.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/{path}")).map_err(|e| CloudApiError::Request(e.to_string()))
    }
}

#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Per attempt.
    pub timeout: Duration,
    /// Retries after the first attempt, for retryable failures only.
    pub max_retries: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_retries: 4,
        }
    }
}

#[derive(Clone, Debug)]
struct GraphCall {
    method: Method,
    url: Url,
    token: Secret,
    body: Option<(Bytes, String)>,
    idempotency_key: Option<String>,
}

#[derive(Clone, Debug)]
struct GraphReply {
    body: Bytes,
}

/// The innermost service: one HTTP exchange, its failures classified.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
}

impl Service<GraphCall> for Http {
    type Response = GraphReply;
    type Error = CloudApiError;
    type Future = Pin<Box<dyn Future<Output = Result<GraphReply, CloudApiError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: GraphCall) -> Self::Future {
        let client = self.client.clone();
        Box::pin(async move {
            let mut request = client
                .request(call.method, call.url)
                .bearer_auth(call.token.expose());
            if let Some(key) = &call.idempotency_key {
                request = request.header(IDEMPOTENCY_HEADER, key);
            }
            if let Some((body, content_type)) = call.body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(body);
            }
            let response = request.send().await.map_err(|e| {
                if e.is_connect() {
                    CloudApiError::Connect(e.to_string())
                } else {
                    CloudApiError::Ambiguous(e.to_string())
                }
            })?;
            let status = response.status();
            let body = response
                .bytes()
                .await
                .map_err(|e| CloudApiError::Ambiguous(e.to_string()))?;
            if status.is_success() {
                return Ok(GraphReply { body });
            }
            Err(match serde_json::from_slice::<GraphErrorBody>(&body) {
                Ok(graph) => CloudApiError::from_graph(status.as_u16(), graph.error),
                Err(_) => CloudApiError::Http {
                    http_status: status.as_u16(),
                    body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
                },
            })
        })
    }
}

/// Retries only what is safe to retry, with backoff and jitter.
#[derive(Clone)]
struct RetrySafe {
    attempt: u32,
    max_retries: u32,
}

impl tower::retry::Policy<GraphCall, GraphReply, BoxError> for RetrySafe {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _call: &mut GraphCall,
        result: &mut Result<GraphReply, BoxError>,
    ) -> Option<Self::Future> {
        let error = result.as_ref().err()?.downcast_ref::<CloudApiError>()?;
        if !error.is_retryable() || self.attempt >= self.max_retries {
            return None;
        }
        let base = error.backoff(self.attempt);
        let jitter = rand::rng().random_range(0..=base.as_millis() as u64 / 2);
        self.attempt += 1;
        metrics::counter!("switchboard_cloud_api_retries_total").increment(1);
        tracing::debug!(attempt = self.attempt, %error, "retrying Cloud API call");
        Some(tokio::time::sleep(base + Duration::from_millis(jitter)))
    }

    fn clone_request(&mut self, call: &GraphCall) -> Option<GraphCall> {
        Some(call.clone())
    }
}

type Stack = tower::retry::Retry<RetrySafe, tower::timeout::Timeout<Http>>;

/// A Cloud API client. Cheap to clone.
#[derive(Clone)]
pub struct CloudApi {
    stack: Stack,
    /// The same without retries, for callers that retry on their own schedule (the outbox).
    once: tower::timeout::Timeout<Http>,
}

impl CloudApi {
    pub fn new(client: reqwest::Client, options: ClientOptions) -> Self {
        let stack = ServiceBuilder::new()
            .retry(RetrySafe {
                attempt: 0,
                max_retries: options.max_retries,
            })
            .timeout(options.timeout)
            .service(Http {
                client: client.clone(),
            });
        let once = ServiceBuilder::new()
            .timeout(options.timeout)
            .service(Http { client });
        Self { stack, once }
    }

    /// Runs one call through the stack: timeout per attempt, safe retries (or one attempt).
    async fn exchange(&self, call: GraphCall, retry: bool) -> Result<GraphReply, CloudApiError> {
        let result = if retry {
            self.stack.clone().oneshot(call).await
        } else {
            self.once.clone().oneshot(call).await
        };
        result.map_err(|e| match e.downcast::<CloudApiError>() {
            Ok(e) => *e,
            Err(e) if e.is::<tower::timeout::error::Elapsed>() => {
                CloudApiError::Ambiguous("timed out waiting for the Cloud API".into())
            }
            Err(e) => CloudApiError::Ambiguous(e.to_string()),
        })
    }

    async fn call<T: DeserializeOwned>(&self, call: GraphCall) -> Result<T, CloudApiError> {
        self.call_with(call, true).await
    }

    async fn call_with<T: DeserializeOwned>(
        &self,
        call: GraphCall,
        retry: bool,
    ) -> Result<T, CloudApiError> {
        let reply = self.exchange(call, retry).await?;
        serde_json::from_slice(&reply.body).map_err(|e| CloudApiError::Decode(e.to_string()))
    }

    fn json_call(
        endpoint: &NumberEndpoint,
        path: &str,
        body: &impl serde::Serialize,
        idempotency_key: Option<&str>,
    ) -> Result<GraphCall, CloudApiError> {
        let body = serde_json::to_vec(body).map_err(|e| CloudApiError::Request(e.to_string()))?;
        Ok(GraphCall {
            method: Method::POST,
            url: endpoint.url(path)?,
            token: endpoint.access_token.clone(),
            body: Some((Bytes::from(body), "application/json".into())),
            idempotency_key: idempotency_key.map(str::to_owned),
        })
    }

    /// Sends a message. `idempotency_key` must be unique per logical message and stable across
    /// the caller's own retries.
    pub async fn send(
        &self,
        endpoint: &NumberEndpoint,
        request: &SendRequest,
        idempotency_key: &str,
    ) -> Result<SendResponse, CloudApiError> {
        self.send_with(endpoint, request, idempotency_key, true)
            .await
    }

    /// Sends a message with a single attempt: for a caller that retries on its own schedule.
    pub async fn send_once(
        &self,
        endpoint: &NumberEndpoint,
        request: &SendRequest,
        idempotency_key: &str,
    ) -> Result<SendResponse, CloudApiError> {
        self.send_with(endpoint, request, idempotency_key, false)
            .await
    }

    async fn send_with(
        &self,
        endpoint: &NumberEndpoint,
        request: &SendRequest,
        idempotency_key: &str,
        retry: bool,
    ) -> Result<SendResponse, CloudApiError> {
        let path = format!("{}/messages", endpoint.phone_number_id);
        let started = std::time::Instant::now();
        let result = self
            .call_with(
                Self::json_call(endpoint, &path, request, Some(idempotency_key))?,
                retry,
            )
            .await;
        metrics::histogram!("switchboard_cloud_api_send_seconds").record(started.elapsed());
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => e
                .code()
                .map_or_else(|| "transport".to_owned(), |c| c.to_string()),
        };
        metrics::counter!("switchboard_cloud_api_sends_total", "outcome" => outcome).increment(1);
        result
    }

    /// Marks a received message read, optionally with a typing indicator.
    pub async fn mark_read(
        &self,
        endpoint: &NumberEndpoint,
        request: &MarkRead,
    ) -> Result<(), CloudApiError> {
        let path = format!("{}/messages", endpoint.phone_number_id);
        let reply: SuccessResponse = self
            .call(Self::json_call(endpoint, &path, request, None)?)
            .await?;
        if reply.success {
            Ok(())
        } else {
            Err(CloudApiError::Decode(
                "mark-as-read answered success=false".into(),
            ))
        }
    }

    /// Uploads media for later sends by id. Returns the media id.
    pub async fn upload_media(
        &self,
        endpoint: &NumberEndpoint,
        bytes: &[u8],
        mime_type: &str,
        filename: &str,
    ) -> Result<String, CloudApiError> {
        let (body, content_type) = multipart_upload(bytes, mime_type, filename);
        let call = GraphCall {
            method: Method::POST,
            url: endpoint.url(&format!("{}/media", endpoint.phone_number_id))?,
            token: endpoint.access_token.clone(),
            body: Some((body, content_type)),
            idempotency_key: None,
        };
        let uploaded: MediaUploaded = self.call(call).await?;
        Ok(uploaded.id)
    }

    /// Looks up a media id: its short-lived download URL and metadata.
    pub async fn media_info(
        &self,
        endpoint: &NumberEndpoint,
        media_id: &str,
    ) -> Result<MediaInfo, CloudApiError> {
        let mut url = endpoint.url(media_id)?;
        url.query_pairs_mut()
            .append_pair("phone_number_id", &endpoint.phone_number_id);
        self.call(GraphCall {
            method: Method::GET,
            url,
            token: endpoint.access_token.clone(),
            body: None,
            idempotency_key: None,
        })
        .await
    }

    /// Downloads media from the URL `media_info` returned (the token is required).
    pub async fn download_media(
        &self,
        endpoint: &NumberEndpoint,
        url: &str,
    ) -> Result<Bytes, CloudApiError> {
        let url = Url::parse(url).map_err(|e| CloudApiError::Request(e.to_string()))?;
        let reply = self
            .exchange(
                GraphCall {
                    method: Method::GET,
                    url,
                    token: endpoint.access_token.clone(),
                    body: None,
                    idempotency_key: None,
                },
                true,
            )
            .await?;
        Ok(reply.body)
    }

    /// Every message template of a WhatsApp Business Account, following the pages (at most
    /// `MAX_TEMPLATE_PAGES` of 100).
    pub async fn templates(
        &self,
        endpoint: &NumberEndpoint,
        waba_id: &str,
    ) -> Result<Vec<TemplateInfo>, CloudApiError> {
        const MAX_TEMPLATE_PAGES: usize = 20;
        let mut url = endpoint.url(&format!("{waba_id}/message_templates"))?;
        url.query_pairs_mut()
            .append_pair("fields", "id,name,language,status,category,components")
            .append_pair("limit", "100");
        let mut all = Vec::new();
        for _ in 0..MAX_TEMPLATE_PAGES {
            let page: TemplateList = self
                .call(GraphCall {
                    method: Method::GET,
                    url,
                    token: endpoint.access_token.clone(),
                    body: None,
                    idempotency_key: None,
                })
                .await?;
            all.extend(page.data);
            match page.paging.and_then(|p| p.next) {
                Some(next) => {
                    url = Url::parse(&next).map_err(|e| CloudApiError::Decode(e.to_string()))?
                }
                None => break,
            }
        }
        Ok(all)
    }

    /// What Meta says of the endpoint's number, which also proves its access token (a refused
    /// token answers code 190).
    pub async fn phone_number(
        &self,
        endpoint: &NumberEndpoint,
    ) -> Result<PhoneNumberInfo, CloudApiError> {
        let mut url = endpoint.url(&endpoint.phone_number_id)?;
        url.query_pairs_mut().append_pair(
            "fields",
            "id,display_phone_number,verified_name,quality_rating,throughput",
        );
        self.call(GraphCall {
            method: Method::GET,
            url,
            token: endpoint.access_token.clone(),
            body: None,
            idempotency_key: None,
        })
        .await
    }

    /// Submits a new message template (Meta's JSON, checked by `connector::templates`) to the
    /// WhatsApp Business Account for review.
    pub async fn create_template(
        &self,
        endpoint: &NumberEndpoint,
        waba_id: &str,
        template: &serde_json::Value,
    ) -> Result<TemplateCreated, CloudApiError> {
        let path = format!("{waba_id}/message_templates");
        self.call(Self::json_call(endpoint, &path, template, None)?)
            .await
    }

    /// Deletes uploaded media.
    pub async fn delete_media(
        &self,
        endpoint: &NumberEndpoint,
        media_id: &str,
    ) -> Result<(), CloudApiError> {
        let mut url = endpoint.url(media_id)?;
        url.query_pairs_mut()
            .append_pair("phone_number_id", &endpoint.phone_number_id);
        let reply: SuccessResponse = self
            .call(GraphCall {
                method: Method::DELETE,
                url,
                token: endpoint.access_token.clone(),
                body: None,
                idempotency_key: None,
            })
            .await?;
        if reply.success {
            Ok(())
        } else {
            Err(CloudApiError::Decode(
                "delete answered success=false".into(),
            ))
        }
    }
}

/// The multipart/form-data body Meta's upload endpoint takes. Built in memory so that a retry
/// can resend the identical bytes.
fn multipart_upload(bytes: &[u8], mime_type: &str, filename: &str) -> (Bytes, String) {
    let boundary = format!("switchboard{:032x}", rand::random::<u128>());
    let safe_name: String = filename
        .chars()
        .map(|c| {
            if c == '"' || c == '\r' || c == '\n' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut body = Vec::with_capacity(bytes.len() + 512);
    for (name, value) in [("messaging_product", "whatsapp"), ("type", mime_type)] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\nContent-Type: {mime_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        Bytes::from(body),
        format!("multipart/form-data; boundary={boundary}"),
    )
}
