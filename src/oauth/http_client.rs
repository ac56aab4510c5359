//! The `oauth2` crate's HTTP client, over cutover's reqwest (so there is one reqwest, one TLS
//! stack, and redirects stay off, as the oauth2 documentation advises).

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

#[derive(Clone)]
pub(crate) struct OAuthHttp {
    client: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct OAuthHttpError(String);

impl OAuthHttp {
    pub(crate) fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client })
    }
}

impl OAuthHttp {
    /// The client itself, for the calls `oauth2` does not make (token introspection).
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A JSON document (a discovery document), with the same timeouts and no redirects.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, String> {
        let response = self.client.get(url).send().await.map_err(|e| {
            if e.is_timeout() {
                format!("{url} did not answer in time")
            } else {
                format!("cannot reach {url}")
            }
        })?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        response
            .json()
            .await
            .map_err(|e| format!("{url} did not answer with the expected JSON: {e}"))
    }
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp {
    type Error = OAuthHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| OAuthHttpError(format!("bad request: {e}")))?;
            let response = self.client.execute(request).await.map_err(|e| {
                OAuthHttpError(if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "the request failed".to_owned()
                })
            })?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response
                .bytes()
                .await
                .map_err(|_| OAuthHttpError("the answer was cut off".to_owned()))?;
            builder
                .body(body.to_vec())
                .map_err(|e| OAuthHttpError(format!("bad response: {e}")))
        })
    }
}
