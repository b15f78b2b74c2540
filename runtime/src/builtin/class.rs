//! The ForgeRock handler classes WASP runs as built-in handlers, by their
//! Java class names.

/// A ForgeRock handler class WASP recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerClass {
    /// `org.forgerock.audit.handlers.json.JsonAuditEventHandler`.
    Json,
    /// `org.forgerock.audit.handlers.json.stdout.JsonStdoutAuditEventHandler`.
    JsonStdout,
    /// `org.forgerock.audit.handlers.csv.CsvAuditEventHandler`.
    Csv,
    /// `org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler`.
    Syslog,
    /// `org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler`.
    Elasticsearch,
    /// `org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler`.
    Splunk,
    /// `org.forgerock.audit.handlers.jdbc.JdbcAuditEventHandler`.
    Jdbc,
    /// `org.forgerock.audit.handlers.jms.JmsAuditEventHandler`.
    Jms,
}

impl HandlerClass {
    /// Every class with its fully qualified name.
    pub const ALL: [(HandlerClass, &'static str); 8] = [
        (HandlerClass::Json, "org.forgerock.audit.handlers.json.JsonAuditEventHandler"),
        (HandlerClass::JsonStdout, "org.forgerock.audit.handlers.json.stdout.JsonStdoutAuditEventHandler"),
        (HandlerClass::Csv, "org.forgerock.audit.handlers.csv.CsvAuditEventHandler"),
        (HandlerClass::Syslog, "org.forgerock.audit.handlers.syslog.SyslogAuditEventHandler"),
        (HandlerClass::Elasticsearch, "org.forgerock.audit.handlers.elasticsearch.ElasticsearchAuditEventHandler"),
        (HandlerClass::Splunk, "org.forgerock.audit.handlers.splunk.SplunkAuditEventHandler"),
        (HandlerClass::Jdbc, "org.forgerock.audit.handlers.jdbc.JdbcAuditEventHandler"),
        (HandlerClass::Jms, "org.forgerock.audit.handlers.jms.JmsAuditEventHandler"),
    ];

    /// The class for a fully qualified name, or its simple name
    /// (`JsonAuditEventHandler`).
    pub fn from_name(name: &str) -> Option<HandlerClass> {
        Self::ALL.iter().find(|(_, full)| *full == name || full.rsplit('.').next() == Some(name)).map(|(c, _)| *c)
    }

    /// The fully qualified class name.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(c, _)| *c == self).map(|(_, n)| *n).expect("every class is listed")
    }

    /// Which WASP issue brings its output (for the "not supported yet"
    /// message).
    pub fn planned_output(self) -> &'static str {
        match self {
            HandlerClass::Json | HandlerClass::JsonStdout | HandlerClass::Csv => "the JSON/CSV file outputs",
            HandlerClass::Syslog => "the syslog output",
            HandlerClass::Elasticsearch | HandlerClass::Splunk => "the Elasticsearch/Splunk outputs",
            HandlerClass::Jdbc => "the SQL output",
            HandlerClass::Jms => "the message-broker outputs",
        }
    }
}
