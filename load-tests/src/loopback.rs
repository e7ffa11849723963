//! The third parties scenarios stand up in this process (a webhook receiver, a CRM): `handle`
//! served over HTTP/1.1 with keep-alive on a loopback port.

use std::convert::Infallible;
use std::future::Future;

use anyhow::Result;
use bytes::Bytes;
use http_body_util::Full;

pub(crate) type Request = hyper::Request<hyper::body::Incoming>;
pub(crate) type Response = hyper::Response<Full<Bytes>>;

/// Serves `handle` until the process ends; its port.
pub(crate) async fn serve<F, Fut>(handle: F) -> Result<u16>
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = socket.set_nodelay(true);
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request| {
                    let answer = handle(req);
                    async move { Ok::<_, Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    Ok(port)
}
