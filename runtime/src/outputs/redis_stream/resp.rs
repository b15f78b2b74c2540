//! A minimal synchronous Redis client (RESP2): commands as arrays of bulk
//! strings, replies read back in order (so commands can be pipelined).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A Redis reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Status(String),
    /// `-ERR …`: the command failed (the connection is still usable).
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$…` (`None`: the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*…` (`None`: the null array).
    Array(Option<Vec<Reply>>),
}

/// A connection to a Redis server.
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects to `address` (`host:port`) with `timeout` for connecting
    /// and for each read and write.
    pub fn open(address: &str, timeout: Duration) -> std::io::Result<Connection> {
        use std::net::ToSocketAddrs;
        let mut last = std::io::Error::other(format!("`{address}` resolves to no address"));
        for addr in address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(timeout))?;
                    stream.set_write_timeout(Some(timeout))?;
                    stream.set_nodelay(true)?;
                    return Ok(Connection {
                        reader: BufReader::new(stream.try_clone()?),
                        writer: BufWriter::with_capacity(1 << 16, stream),
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Queues a command (sent at [`Self::read`] or [`Self::command`]).
    pub fn send(&mut self, args: &[&[u8]]) -> std::io::Result<()> {
        write!(self.writer, "*{}\r\n", args.len())?;
        for arg in args {
            write!(self.writer, "${}\r\n", arg.len())?;
            self.writer.write_all(arg)?;
            self.writer.write_all(b"\r\n")?;
        }
        Ok(())
    }

    /// Sends what is queued and reads one reply.
    pub fn read(&mut self) -> std::io::Result<Reply> {
        self.writer.flush()?;
        read_reply(&mut self.reader)
    }

    /// Sends one command and reads its reply.
    pub fn command(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        self.send(args)?;
        self.read()
    }
}

fn line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed the connection"));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn number(text: &str) -> std::io::Result<i64> {
    text.parse().map_err(|_| std::io::Error::other(format!("not a RESP length or integer: `{text}`")))
}

/// Reads one reply.
pub fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let line = line(reader)?;
    let (kind, rest) = line.split_at_checked(1).ok_or_else(|| std::io::Error::other("an empty RESP line"))?;
    Ok(match kind {
        "+" => Reply::Status(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(number(rest)?),
        "$" => match number(rest)? {
            n if n < 0 => Reply::Bulk(None),
            n => {
                let mut data = vec![0; n as usize + 2];
                reader.read_exact(&mut data)?;
                data.truncate(n as usize);
                Reply::Bulk(Some(data))
            }
        },
        "*" => match number(rest)? {
            n if n < 0 => Reply::Array(None),
            n => Reply::Array(Some((0..n).map(|_| read_reply(reader)).collect::<std::io::Result<_>>()?)),
        },
        _ => return Err(std::io::Error::other(format!("not a RESP reply: `{line}`"))),
    })
}
