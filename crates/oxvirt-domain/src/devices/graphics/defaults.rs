//! What libvirt does to a `<graphics>` element of an inactive definition.

use super::{parse_valid_to, Graphics, GraphicsListen, GraphicsType, ListenType};
use super::{SharePolicy, SpiceChannelMode};
use oxvirt_xml::{Result, XmlError};

impl Graphics {
    /// The checks libvirt makes when the definition is validated
    /// (`virDomainGraphicsDefValidate`). That an `<audio id>` names an existing `<audio>`
    /// device is for the caller to check.
    pub fn validate(&self) -> Result<()> {
        use GraphicsType::*;
        if self.has_listens() {
            for l in &self.listens {
                match l.kind {
                    ListenType::Network if l.network.as_deref().is_none_or(str::is_empty) => {
                        return Err(XmlError::xml(
                            "'network' attribute is required for listen type 'network'",
                        ))
                    }
                    ListenType::Socket | ListenType::None if !matches!(self.kind, Vnc | Spice) => {
                        return Err(XmlError::unsupported(format!(
                            "listen type '{}' is not available for graphics type '{}'",
                            l.kind, self.kind
                        )))
                    }
                    _ => {}
                }
            }
        }
        if self.kind == Dbus && self.p2p == Some(true) && self.address.is_some() {
            return Err(XmlError::xml("D-Bus p2p with an address is not supported"));
        }
        Ok(())
    }

    /// Applies what libvirt's parser (reading inactive XML), its post-parse step and its
    /// formatter do to this console; see the module documentation.
    pub fn apply_defaults(&mut self) {
        use GraphicsType::*;
        if self.has_listens() {
            self.build_listens();
        } else {
            self.listens.clear();
            self.listen = None;
            self.socket = None;
        }
        match self.kind {
            Vnc => self.vnc_defaults(),
            Rdp => self.rdp_defaults(),
            Spice => self.spice_defaults(),
            Sdl => {
                if let Some(gl) = &mut self.gl {
                    gl.rendernode = None;
                }
            }
            EglHeadless => {
                if let Some(gl) = &mut self.gl {
                    gl.enable = None;
                }
                self.gl = self.gl.take().filter(|gl| gl.rendernode.is_some());
            }
            Desktop | Dbus => {}
        }
        if self.fullscreen == Some(false) {
            self.fullscreen = None;
        }
        if self.p2p == Some(false) {
            self.p2p = None;
        }
        if self.share_policy == Some(SharePolicy::Default) {
            self.share_policy = None;
        }
        if self.default_mode == Some(SpiceChannelMode::Any) {
            self.default_mode = None;
        }
        if let Some(v) = &self.passwd_valid_to {
            if let Some([y, mo, d, h, mi, s]) = parse_valid_to(v) {
                self.passwd_valid_to = Some(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"));
            }
        }
        self.spice.apply_defaults();
    }

    /// `virDomainGraphicsListensParseXML` for inactive XML: the legacy attributes complete
    /// the first `<listen>` or make one, and each listen keeps what its type uses.
    fn build_listens(&mut self) {
        let listen_attr = self.listen.take().filter(|s| !s.is_empty());
        let socket_attr = self.socket.take();
        if let Some(first) = self.listens.first_mut() {
            if first.kind == ListenType::Address && first.address.is_none() {
                first.address = listen_attr.clone();
            }
            if first.kind == ListenType::Socket && first.socket.is_none() {
                first.socket = socket_attr.clone();
            }
        }
        for l in &mut self.listens {
            let empty = |v: &mut Option<String>| {
                if v.as_deref() == Some("") {
                    *v = None;
                }
            };
            empty(&mut l.address);
            empty(&mut l.network);
            empty(&mut l.socket);
            if l.kind != ListenType::Address {
                l.address = None;
            }
        }
        let vnc_socket = socket_attr.filter(|_| self.kind == GraphicsType::Vnc);
        let new = match vnc_socket {
            Some(s) => GraphicsListen {
                socket: Some(s),
                ..GraphicsListen::new(ListenType::Socket)
            },
            None => GraphicsListen {
                address: listen_attr,
                ..GraphicsListen::new(ListenType::Address)
            },
        };
        match self.listens.first() {
            None => self.listens.push(new),
            Some(first)
                if matches!(first.kind, ListenType::Address | ListenType::Network)
                    && new.kind == ListenType::Socket =>
            {
                self.listens[0] = new;
            }
            Some(_) => {}
        }
    }

    fn first_listen(&self) -> Option<ListenType> {
        self.listens.first().map(|l| l.kind)
    }

    /// The legacy `listen` attribute libvirt writes: the first listen's address.
    fn legacy_listen(&self) -> Option<String> {
        self.listens
            .first()
            .filter(|l| l.kind == ListenType::Address)
            .and_then(|l| l.address.clone())
    }

    fn vnc_defaults(&mut self) {
        match self.first_listen() {
            Some(ListenType::Address | ListenType::Network) => {
                let (mut port, mut autoport) = match self.port {
                    None | Some(-1) => (0, true),
                    Some(p) => (p, false),
                };
                if let Some(a) = self.autoport {
                    autoport = a;
                    if a {
                        port = 0;
                    }
                }
                self.port = if port != 0 && !autoport {
                    Some(port)
                } else if autoport {
                    Some(-1)
                } else {
                    None
                };
                self.autoport = Some(autoport);
                self.websocket = self.websocket.filter(|&w| w != 0);
                self.listen = self.legacy_listen();
                self.socket = None;
            }
            Some(ListenType::Socket) => {
                self.socket = self.listens[0].socket.clone();
                self.clear_ports();
            }
            Some(ListenType::None) | None => self.clear_ports(),
        }
        if self.passwd.is_none() {
            self.passwd_valid_to = None;
            self.connected = None;
        }
    }

    fn clear_ports(&mut self) {
        self.port = None;
        self.tls_port = None;
        self.autoport = None;
        self.websocket = None;
        self.listen = None;
    }

    fn rdp_defaults(&mut self) {
        let (mut port, mut autoport) = match self.port {
            None => (0, true),
            Some(-1) => (-1, true),
            Some(p) => (p, false),
        };
        if self.autoport == Some(true) {
            autoport = true;
        }
        if autoport {
            port = 0;
        }
        self.port = if port != 0 {
            Some(port)
        } else if autoport {
            Some(0)
        } else {
            None
        };
        self.autoport = autoport.then_some(true);
        self.replace_user = self.replace_user.filter(|&v| v);
        self.multi_user = self.multi_user.filter(|&v| v);
        self.listen = self.legacy_listen();
    }

    fn spice_defaults(&mut self) {
        let mut port = self.port.unwrap_or(0);
        let mut tls = self.tls_port.unwrap_or(0);
        let mut autoport = self.autoport.unwrap_or(false);
        if port == -1 && tls == -1 {
            autoport = true;
        }
        if autoport {
            port = 0;
            tls = 0;
        }
        // virDomainDefPostParseGraphics: no ports and no autoport means no listening.
        if self.first_listen() == Some(ListenType::Address) && port == 0 && tls == 0 && !autoport {
            self.listens[0] = GraphicsListen {
                unknown: std::mem::take(&mut self.listens[0].unknown),
                ..GraphicsListen::new(ListenType::None)
            };
        }
        match self.first_listen() {
            Some(ListenType::Address | ListenType::Network) => {
                self.port = (port != 0).then_some(port);
                self.tls_port = (tls != 0).then_some(tls);
                self.autoport = Some(autoport);
                self.websocket = None;
                self.listen = self.legacy_listen();
            }
            _ => self.clear_ports(),
        }
        if let Some(gl) = &self.gl {
            if gl.enable.is_none() {
                self.gl = None;
            }
        }
        if self.passwd.is_none() {
            self.passwd_valid_to = None;
            self.connected = None;
        }
    }
}
