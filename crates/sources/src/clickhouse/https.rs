//! HTTPS for ureq with a rustls configuration of our own: ureq's own TLS settings know only
//! root certificates or no checking, not libpq's `verify-ca` nor the verifiers of
//! [`crate::tls`], so the TLS step of its connector chain is this one. (It uses ureq's
//! `unversioned` transport API, which may change in a minor release; `Cargo.lock` pins it.)

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

/// An agent whose HTTPS connections to `host` use `tls`.
pub(super) fn agent(
    config: ureq::config::Config,
    tls: Arc<ClientConfig>,
    host: &str,
) -> Result<ureq::Agent, String> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("`{host}` cannot be checked by TLS: {e}"))?;
    let connector = ().chain(TcpConnector::default()).chain(Tls { config: tls, name });
    Ok(ureq::Agent::with_parts(
        config,
        connector,
        DefaultResolver::default(),
    ))
}

/// The TLS step: wraps the TCP connection of an `https` request.
#[derive(Debug)]
struct Tls {
    config: Arc<ClientConfig>,
    /// The name the certificate is checked against: the URL's host.
    name: ServerName<'static>,
}

impl<In: Transport> Connector<In> for Tls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let conn = ClientConnection::new(self.config.clone(), self.name.clone())?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        let mut stream = StreamOwned::new(conn, sock);
        // The handshake now, so that a refused certificate fails the connection.
        stream.conn.complete_io(&mut stream.sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport { buffers, stream })))
    }
}

/// An open TLS connection as ureq reads and writes it.
pub(super) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        use std::io::Write;
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        use std::io::Read;
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
