//! The MQTT 3.1.1 packets a QoS 1 publisher needs: `CONNECT`, `CONNACK`,
//! `PUBLISH`, `PUBACK`, `DISCONNECT` (OASIS MQTT 3.1.1, section 3).

use std::io::Read;

/// Appends a "remaining length" (1 to 4 bytes, 7 bits each).
fn remaining_length(out: &mut Vec<u8>, mut length: usize) {
    loop {
        let mut byte = (length % 128) as u8;
        length /= 128;
        if length > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if length == 0 {
            break;
        }
    }
}

/// Appends a length-prefixed string or binary field.
fn field(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// `CONNECT` with a clean session and no keep-alive timeout.
pub fn connect(client_id: &str, username: Option<&str>, password: Option<&str>) -> Vec<u8> {
    let mut body = Vec::new();
    field(&mut body, b"MQTT");
    body.push(4); // protocol level 3.1.1
    let mut flags = 0x02; // clean session
    if username.is_some() {
        flags |= 0x80;
    }
    if password.is_some() {
        flags |= 0x40;
    }
    body.push(flags);
    body.extend_from_slice(&0u16.to_be_bytes()); // keep alive: off
    field(&mut body, client_id.as_bytes());
    if let Some(user) = username {
        field(&mut body, user.as_bytes());
    }
    if let Some(password) = password {
        field(&mut body, password.as_bytes());
    }
    let mut packet = vec![0x10];
    remaining_length(&mut packet, body.len());
    packet.extend_from_slice(&body);
    packet
}

/// Appends a QoS 1 `PUBLISH` of `payload` on `topic` with `packet_id`.
pub fn publish(out: &mut Vec<u8>, topic: &str, packet_id: u16, payload: &[u8]) {
    out.push(0x32);
    remaining_length(out, 2 + topic.len() + 2 + payload.len());
    field(out, topic.as_bytes());
    out.extend_from_slice(&packet_id.to_be_bytes());
    out.extend_from_slice(payload);
}

/// `DISCONNECT`.
pub const DISCONNECT: [u8; 2] = [0xE0, 0];

/// A packet from the broker: its type (the high nibble) and body.
pub fn read(reader: &mut impl Read) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 1];
    reader.read_exact(&mut head)?;
    let mut length = 0usize;
    for shift in 0..4 {
        let mut byte = [0u8; 1];
        reader.read_exact(&mut byte)?;
        length |= usize::from(byte[0] & 0x7F) << (7 * shift);
        if byte[0] & 0x80 == 0 {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            return Ok((head[0] >> 4, body));
        }
    }
    Err(std::io::Error::other("a malformed MQTT packet length"))
}

/// Why a `CONNACK` refused the connection.
pub fn connack_refusal(code: u8) -> &'static str {
    match code {
        1 => "unacceptable protocol version",
        2 => "client identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_encoded_as_the_specification_says() {
        let packet = connect("c", Some("u"), Some("p"));
        assert_eq!(packet, [0x10, 19, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 0, 0, 1, b'c', 0, 1, b'u', 0, 1, b'p']);
        let mut out = Vec::new();
        publish(&mut out, "a/b", 7, &[b'x'; 200]);
        assert_eq!(&out[..9], [0x32, 0xCF, 0x01, 0, 3, b'a', b'/', b'b', 0]);
        assert_eq!(out[9], 7);
        assert_eq!(out.len(), 3 + 5 + 2 + 200);
        let mut input: &[u8] = &[0x40, 2, 0, 7];
        assert_eq!(read(&mut input).unwrap(), (4, vec![0, 7]));
    }
}
