//! The smoke request: one HTTPS GET with the key in a header, through a
//! host-to-address override (like curl's `--connect-to`) and an optional
//! extra CA, each attempt bounded by a timeout.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use greenlight_core::secret::SecretValue;
use greenlight_core::verify::SmokeObservation;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// A `HOST:PORT:TARGET_HOST:TARGET_PORT` override, as curl's `--connect-to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    pub host: String,
    pub port: u16,
    pub target_host: String,
    pub target_port: u16,
}

impl FromStr for ConnectTo {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "--connect-to \"{text}\" is invalid; write HOST:PORT:TARGET_HOST:TARGET_PORT, \
                 for example stage.example.com:443:127.0.0.1:8443"
            )
        };
        // The target host may be a bracketed IPv6 address.
        let (head, target_port) = text.rsplit_once(':').ok_or_else(usage)?;
        let parts: Vec<&str> = head.splitn(3, ':').collect();
        let [host, port, target_host] = parts.as_slice() else {
            return Err(usage());
        };
        let target_host = target_host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || target_host.is_empty() {
            return Err(usage());
        }
        Ok(ConnectTo {
            host: host.to_ascii_lowercase(),
            port: port.parse().map_err(|_| usage())?,
            target_host: target_host.to_string(),
            target_port: target_port.parse().map_err(|_| usage())?,
        })
    }
}

/// Connection settings of smoke requests.
#[derive(Debug, Clone, Default)]
pub struct SmokeClientOptions {
    pub connect_to: Vec<ConnectTo>,
    /// PEM file with extra trusted CA certificates.
    pub ca_file: Option<std::path::PathBuf>,
    /// Use plain HTTP; only allowed when the connection goes to loopback.
    pub plain_http: bool,
}

/// A client for smoke requests.
pub struct SmokeClient {
    options: SmokeClientOptions,
    tls: TlsConnector,
}

impl SmokeClient {
    /// Builds a client that trusts the system roots plus `ca_file`.
    pub fn new(options: SmokeClientOptions) -> Result<SmokeClient> {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for certificate in native.certs {
            // A broken system certificate must not stop the smoke check.
            let _ = roots.add(certificate);
        }
        if let Some(path) = &options.ca_file {
            let added = add_ca_file(&mut roots, path)?;
            tracing::debug!(path = %path.display(), added, "loaded CA certificates");
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS setup failed")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(SmokeClient {
            options,
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Returns the URL the smoke request goes to.
    pub fn url(&self, host: &str, path: &str) -> String {
        let scheme = if self.options.plain_http {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{host}{path}")
    }

    fn default_port(&self) -> u16 {
        if self.options.plain_http { 80 } else { 443 }
    }

    /// Sends one GET with the key header and returns status and headers.
    pub async fn get(
        &self,
        host: &str,
        path: &str,
        header: &str,
        key: &SecretValue,
        timeout: Duration,
    ) -> SmokeObservation {
        match tokio::time::timeout(timeout, self.get_inner(host, path, header, key)).await {
            // An endpoint may echo request headers back, and the report
            // prints the headers it judges, so the key is scrubbed from them.
            Ok(Ok(SmokeObservation::Response { status, headers })) => SmokeObservation::Response {
                status,
                headers: headers
                    .into_iter()
                    .map(|(name, value)| (name, key.scrub(&value)))
                    .collect(),
            },
            Ok(Ok(observation)) => observation,
            Ok(Err(error)) => SmokeObservation::Error(key.scrub(&format!("{error:#}"))),
            Err(_) => SmokeObservation::Error(format!(
                "no response within {:.1} s",
                timeout.as_secs_f64()
            )),
        }
    }

    async fn get_inner(
        &self,
        host: &str,
        path: &str,
        header: &str,
        key: &SecretValue,
    ) -> Result<SmokeObservation> {
        let port = self.default_port();
        let lower = host.to_ascii_lowercase();
        let (target_host, target_port) = self
            .options
            .connect_to
            .iter()
            .find(|c| c.host == lower && c.port == port)
            .map(|c| (c.target_host.clone(), c.target_port))
            .unwrap_or_else(|| (host.to_string(), port));

        let addresses: Vec<SocketAddr> =
            tokio::net::lookup_host((target_host.as_str(), target_port))
                .await
                .with_context(|| format!("cannot resolve {target_host}"))?
                .collect();
        let Some(address) = addresses.first().copied() else {
            bail!("{target_host} resolved to no address");
        };
        if self.options.plain_http && !is_loopback(address.ip()) {
            bail!(
                "plain HTTP is allowed only to loopback, but {host} connects to {address}; drop \
                 --plain-http to use HTTPS"
            );
        }
        let tcp = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;

        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, host)
            .header(header, key.expose())
            .header(
                hyper::header::USER_AGENT,
                concat!("greenlight/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .context("invalid smoke request")?;

        let response = if self.options.plain_http {
            send(TokioIo::new(tcp), request).await?
        } else {
            let name = ServerName::try_from(host.to_string())
                .map_err(|_| anyhow!("\"{host}\" is not a valid TLS server name"))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .with_context(|| format!("TLS handshake with {host} ({address}) failed"))?;
            send(TokioIo::new(tls), request).await?
        };
        Ok(response)
    }
}

async fn send<T>(io: TokioIo<T>, request: hyper::Request<Empty<Bytes>>) -> Result<SmokeObservation>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .context("HTTP handshake failed")?;
    let driver = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .context("request failed")?;
    let status = response.status().as_u16();
    let mut headers = BTreeMap::new();
    for (name, value) in response.headers() {
        headers.insert(
            name.as_str().to_ascii_lowercase(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        );
    }
    // The body is not needed; dropping the response closes the connection.
    drop(response);
    driver.abort();
    Ok(SmokeObservation::Response { status, headers })
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<usize> {
    let text =
        std::fs::read(path).with_context(|| format!("cannot read CA file {}", path.display()))?;
    let mut added = 0;
    for certificate in CertificateDer::pem_slice_iter(&text) {
        let certificate =
            certificate.with_context(|| format!("CA file {} is not valid PEM", path.display()))?;
        roots
            .add(certificate)
            .with_context(|| format!("CA file {} holds an invalid certificate", path.display()))?;
        added += 1;
    }
    if added == 0 {
        bail!(
            "CA file {} contains no certificate; give a PEM file with BEGIN CERTIFICATE blocks",
            path.display()
        );
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_to_parses() {
        let parsed: ConnectTo = "Stage.Example.com:443:127.0.0.1:8443"
            .parse()
            .expect("valid");
        assert_eq!(parsed.host, "stage.example.com");
        assert_eq!(parsed.port, 443);
        assert_eq!(parsed.target_host, "127.0.0.1");
        assert_eq!(parsed.target_port, 8443);
    }

    #[test]
    fn connect_to_accepts_ipv6_target() {
        let parsed: ConnectTo = "a.example:443:[::1]:8443".parse().expect("valid");
        assert_eq!(parsed.target_host, "::1");
    }

    #[test]
    fn connect_to_rejects_garbage() {
        assert!("stage.example.com:443".parse::<ConnectTo>().is_err());
        assert!("a:b:c:d".parse::<ConnectTo>().is_err());
    }
}
