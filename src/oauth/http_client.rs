//! The `oauth2` crate's HTTP client, over cutover's reqwest (so there is one reqwest, one TLS
//! stack, and redirects stay off, as the oauth2 documentation advises).

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

use super::{ClientBuildError, FetchError, OAuthHttpError};

#[derive(Clone)]
pub(crate) struct OAuthHttp {
    client: reqwest::Client,
}

impl OAuthHttp {
    pub(crate) fn new() -> Result<Self, ClientBuildError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(ClientBuildError)?;
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
    ) -> Result<T, FetchError> {
        let url = url.to_owned();
        let response = match self.client.get(&url).send().await {
            Ok(response) => response,
            Err(source) if source.is_timeout() => return Err(FetchError::Timeout { url, source }),
            Err(source) => return Err(FetchError::Unreachable { url, source }),
        };
        if !response.status().is_success() {
            let status = response.status();
            return Err(FetchError::Status { url, status });
        }
        response
            .json()
            .await
            .map_err(|source| FetchError::NotJson { url, source })
    }
}

impl<'c> AsyncHttpClient<'c> for OAuthHttp {
    type Error = OAuthHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request =
                reqwest::Request::try_from(request).map_err(OAuthHttpError::BadRequest)?;
            let response = self.client.execute(request).await.map_err(|e| {
                if e.is_connect() {
                    OAuthHttpError::Connect
                } else {
                    OAuthHttpError::Failed
                }
            })?;
            let mut builder = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(|_| OAuthHttpError::CutOff)?;
            builder
                .body(body.to_vec())
                .map_err(OAuthHttpError::BadResponse)
        })
    }
}
