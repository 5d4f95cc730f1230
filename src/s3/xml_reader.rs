//! The one XML reader: a pull reader for every document portico reads, the node's answers
//! (object listings, parts, uploads in progress, delete, complete and copy results, error
//! documents) and the client's request bodies (CompleteMultipartUpload, DeleteObjects, CORS,
//! CreateBucket): elements and text, one event at a time, borrowing from the document wherever
//! nothing needs resolving. [`read_children`] and [`read_document`] read a whole answer two levels
//! deep; [`read_request`] does the same for a client's body, refusing mixed content.
//!
//! It replaced quick-xml (its event reader and serde deserializer): quick-xml's event reader was
//! ~1/3 of a ListObjects' CPU in the worker (opt-level "z", wasm without SIMD): a 64-key Garage
//! listing parsed natively in 166 µs with it, 88 µs with this reader; its serde deserializer took
//! 3.3-4.5 ms for 1000 parts or uploads (1.4-1.6 here) and 22 ms for a 10,000-part Complete body
//! (7 here), and the crate was ~38 KB of the gzipped bundle. The documents portico reads use a
//! small part of XML: declarations, comments, elements with attributes, text with the predefined
//! entities and character references, CDATA. That part is read here, with end tags checked
//! against their start tags; a DOCTYPE (never sent by a node, and the door to entity expansion)
//! is an error, as is anything else this reader does not know.

use std::borrow::Cow;

use super::error::S3Error;
use crate::s3_error;

/// One piece of a document.
#[derive(Debug, PartialEq, Eq)]
pub enum XmlEvent<'a> {
    /// An element starts: its local name (any namespace prefix removed). `empty` for `<a/>`,
    /// which has no `End` event of its own.
    Start { name: &'a str, empty: bool },
    /// The element opened last ends.
    End,
    /// Text or a CDATA section: entities resolved, line ends normalised as XML 1.0 says (a CR
    /// written as `&#13;` stays a CR).
    Text(Cow<'a, str>),
    /// The document is over, every element closed.
    Eof,
}

pub struct XmlReader<'a> {
    doc: &'a str,
    pos: usize,
    /// Qualified names of the open elements, innermost last.
    open: Vec<&'a str>,
    /// The root element has ended: no other element may follow.
    root_done: bool,
}

impl<'a> XmlReader<'a> {
    pub fn new(doc: &'a str) -> Self {
        Self { doc: doc.strip_prefix('\u{feff}').unwrap_or(doc), pos: 0, open: Vec::new(), root_done: false }
    }

    /// The next event; an error says what is wrong, for the node error the caller makes of it.
    pub fn next_event(&mut self) -> Result<XmlEvent<'a>, String> {
        loop {
            let rest = &self.doc[self.pos..];
            if rest.is_empty() {
                return match self.open.last() {
                    None => Ok(XmlEvent::Eof),
                    Some(name) => Err(format!("the document ends inside <{name}>")),
                };
            }
            if rest.as_bytes()[0] != b'<' {
                // One pass finds the text's end and whether anything in it needs resolving.
                let mut end = rest.len();
                let mut plain = true;
                for (i, &byte) in rest.as_bytes().iter().enumerate() {
                    match byte {
                        b'<' => {
                            end = i;
                            break;
                        }
                        b'&' | b'\r' => plain = false,
                        _ => {}
                    }
                }
                let raw = &rest[..end];
                self.pos += end;
                if self.open.is_empty() {
                    if raw.trim_ascii().is_empty() {
                        continue;
                    }
                    return Err("text outside the root element".to_string());
                }
                return if plain {
                    Ok(XmlEvent::Text(Cow::Borrowed(raw)))
                } else {
                    resolve_text(raw).map(XmlEvent::Text)
                };
            }
            // The byte after `<` says what follows; only `<!` needs a longer look.
            match rest.as_bytes().get(1) {
                Some(b'?') => self.pos += 2 + find_or(&rest[2..], "?>", "a declaration")? + 2,
                Some(b'!') => {
                    if let Some(after) = rest.strip_prefix("<!--") {
                        self.pos += 4 + find_or(after, "-->", "a comment")? + 3;
                    } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
                        let end = find_or(after, "]]>", "a CDATA section")?;
                        if self.open.is_empty() {
                            return Err("a CDATA section outside the root element".to_string());
                        }
                        self.pos += 9 + end + 3;
                        return Ok(XmlEvent::Text(normalize_line_ends(&after[..end])));
                    } else {
                        return Err("a DOCTYPE or other declaration".to_string());
                    }
                }
                Some(b'/') => {
                    let after = &rest[2..];
                    let end = find_byte(after, b'>').ok_or("an end tag that does not end")?;
                    let name = after[..end].trim_ascii_end();
                    self.pos += 2 + end + 1;
                    return match self.open.pop() {
                        Some(open) if open == name => {
                            self.root_done = self.open.is_empty();
                            Ok(XmlEvent::End)
                        }
                        Some(open) => Err(format!("</{name}> closes <{open}>")),
                        None => Err(format!("</{name}> without a start tag")),
                    };
                }
                _ => return self.start_tag(&rest[1..]),
            }
        }
    }

    /// `<name attributes...>` or `<name .../>`, `tag` starting after the `<`.
    fn start_tag(&mut self, tag: &'a str) -> Result<XmlEvent<'a>, String> {
        let bytes = tag.as_bytes();
        let name_len =
            bytes.iter().position(|&b| is_xml_space_byte(b) || b == b'/' || b == b'>').unwrap_or(bytes.len());
        let name = &tag[..name_len];
        if name.is_empty() || name.bytes().any(|b| matches!(b, b'<' | b'"' | b'\'' | b'=' | b'&')) {
            return Err(format!("a malformed tag <{}", tag.chars().take(40).collect::<String>()));
        }
        // Attributes are skipped; a quoted value may hold `>` or `/`.
        let mut i = name_len;
        let mut quote = None;
        while i < bytes.len() {
            let byte = bytes[i];
            match quote {
                Some(q) if byte == q => quote = None,
                Some(_) => {}
                None if byte == b'"' || byte == b'\'' => quote = Some(byte),
                None if byte == b'<' => break,
                None if byte == b'>' => {
                    let empty = bytes[i - 1] == b'/' && i > name_len;
                    if self.root_done {
                        return Err(format!("an element <{name}> after the root element"));
                    }
                    self.pos += 1 + i + 1;
                    if empty {
                        self.root_done = self.open.is_empty();
                    } else {
                        self.open.push(name);
                    }
                    let local = name.bytes().rposition(|b| b == b':').map_or(name, |colon| &name[colon + 1..]);
                    return Ok(XmlEvent::Start { name: local, empty });
                }
                None => {}
            }
            i += 1;
        }
        Err(format!("an unfinished tag <{name}"))
    }
}

/// One child of a document's root, read two levels deep: its own text and, in order, the text of
/// each of its children (anything deeper is skipped). S3's answers are this shape: `<IsTruncated>`
/// is a child with text, `<Part>` one with fields. Text is kept as written (no trimming: a key
/// may end in spaces).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Child<'a> {
    pub name: &'a str,
    /// Borrowed from the document unless it had to be resolved or joined.
    pub text: Cow<'a, str>,
    pub fields: Vec<(&'a str, Cow<'a, str>)>,
}

impl Child<'_> {
    /// The text of the first field called `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(field, _)| *field == name).map(|(_, text)| text.as_ref())
    }

    /// The text of the field called `name` when it appears at most once: a part or object that
    /// names its ETag twice says two things, and is refused rather than half read.
    pub fn only_field(&self, name: &str) -> Result<Option<&str>, String> {
        only(self.fields.iter().filter(|(field, _)| *field == name).map(|(_, text)| text.as_ref()), name)
    }
}

/// The text of the root's child called `name` in a flat document (a result or an error), when it
/// appears at most once.
pub fn only_child<'c>(children: &'c [Child<'_>], name: &str) -> Result<Option<&'c str>, String> {
    only(children.iter().filter(|child| child.name == name).map(|child| child.text.as_ref()), name)
}

fn only<'c>(mut texts: impl Iterator<Item = &'c str>, name: &str) -> Result<Option<&'c str>, String> {
    let first = texts.next();
    match texts.next() {
        None => Ok(first),
        Some(_) => Err(format!("<{name}> appears twice")),
    }
}

/// A document read two levels deep: its root's local name and the root's children.
#[derive(Debug, PartialEq, Eq)]
pub struct Document<'a> {
    pub root: &'a str,
    pub children: Vec<Child<'a>>,
}

/// The children of a document whose root element is called `root` (local name), in order.
pub fn read_children<'a>(doc: &'a str, root: &str) -> Result<Vec<Child<'a>>, String> {
    read(doc, Some(root), false).map(|document| document.children)
}

/// A client's request document (`read_children`), held to its schema's shape as S3 holds it:
/// text beside elements (in the root or in a child with fields) and elements inside a field's
/// value are refused, where a node's answer is read leniently.
pub fn read_request<'a>(doc: &'a str, root: &str) -> Result<Vec<Child<'a>>, String> {
    read(doc, Some(root), true).map(|document| document.children)
}

/// A document of whichever kind it is (a node answers with its result or an error document).
pub fn read_document(doc: &str) -> Result<Document<'_>, String> {
    read(doc, None, false)
}

/// Reads `doc` two levels deep; with `expected`, a root of another name stops the read at once;
/// `strict` refuses mixed content.
fn read<'a>(doc: &'a str, expected: Option<&str>, strict: bool) -> Result<Document<'a>, String> {
    let mut reader = XmlReader::new(doc);
    let mut children: Vec<Child<'a>> = Vec::new();
    // Elements open: 1 in the root, 2 in a child, 3 in a field.
    let mut depth = 0usize;
    let mut root = None;
    loop {
        match reader.next_event()? {
            XmlEvent::Eof => break,
            XmlEvent::End => depth -= 1,
            XmlEvent::Text(text) => match (depth, children.last_mut()) {
                (1, _) if strict && !text.trim_ascii().is_empty() => return Err("text beside elements".to_string()),
                (2, Some(child)) => append(&mut child.text, text),
                (3, Some(child)) => {
                    if let Some((_, field)) = child.fields.last_mut() {
                        append(field, text);
                    }
                }
                _ => {}
            },
            XmlEvent::Start { name, empty } => {
                match depth {
                    0 => match expected {
                        Some(expected) if name != expected => {
                            return Err(format!("expected <{expected}>, found <{name}>"))
                        }
                        _ => root = Some(name),
                    },
                    1 => children.push(Child { name, ..Child::default() }),
                    2 => {
                        if let Some(child) = children.last_mut() {
                            child.fields.push((name, Cow::Borrowed("")));
                        }
                    }
                    _ if strict => return Err(format!("an element <{name}> inside a value")),
                    _ => {}
                }
                if !empty {
                    depth += 1;
                }
            }
        }
    }
    if strict && children.iter().any(|child| !child.fields.is_empty() && !child.text.trim_ascii().is_empty()) {
        return Err("text beside elements".to_string());
    }
    match root {
        Some(root) => Ok(Document { root, children }),
        None => Err(match expected {
            Some(expected) => format!("no <{expected}> element"),
            None => "no element".to_string(),
        }),
    }
}

/// Text joined to what came before it in the same element (text around a comment, a CDATA
/// section): most elements have one piece, which stays borrowed.
fn append<'a>(to: &mut Cow<'a, str>, text: Cow<'a, str>) {
    if to.is_empty() {
        *to = text;
    } else {
        to.to_mut().push_str(&text);
    }
}

/// A node document portico cannot read is the node's fault: an InternalError for the client,
/// saying which document and why.
pub fn unreadable(what: &str, why: impl std::fmt::Display) -> S3Error {
    s3_error!(InternalError, "The storage node sent an unreadable {what}: {why}")
}

/// An XML boolean as nodes write it.
pub fn xml_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("not a boolean: {other:?}")),
    }
}

/// An unsigned number in a node's answer.
pub fn xml_number<N: std::str::FromStr>(text: &str) -> Result<N, String> {
    text.trim().parse().map_err(|_| format!("not a number: {text:?}"))
}

/// Where `byte` (ASCII) first is in `text`: a plain loop, which beats `str::find`'s searcher on
/// the short runs of a node document in wasm.
fn find_byte(text: &str, byte: u8) -> Option<usize> {
    text.bytes().position(|b| b == byte)
}

fn find_or(haystack: &str, needle: &str, what: &str) -> Result<usize, String> {
    haystack.find(needle).ok_or_else(|| format!("{what} that does not end"))
}

fn is_xml_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// XML 1.0 line ends: CR LF and a lone CR read as LF.
fn normalize_line_ends(raw: &str) -> Cow<'_, str> {
    if find_byte(raw, b'\r').is_none() {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Text with its references resolved and line ends normalised.
fn resolve_text(raw: &str) -> Result<Cow<'_, str>, String> {
    let Some(first) = find_byte(raw, b'&') else {
        return Ok(normalize_line_ends(raw));
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&normalize_line_ends(&raw[..first]));
    let mut rest = &raw[first..];
    while let Some(after) = rest.strip_prefix('&') {
        let end = find_byte(after, b';').ok_or("an entity reference without its ';'")?;
        let reference = &after[..end];
        match reference {
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "amp" => out.push('&'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            _ => out.push(char_reference(reference).ok_or_else(|| format!("an unknown entity &{reference};"))?),
        }
        rest = &after[end + 1..];
        let next = find_byte(rest, b'&').unwrap_or(rest.len());
        out.push_str(&normalize_line_ends(&rest[..next]));
        rest = &rest[next..];
    }
    Ok(Cow::Owned(out))
}

/// `#65` or `#x41`: a character XML allows (no NUL).
fn char_reference(reference: &str) -> Option<char> {
    let number = reference.strip_prefix('#')?;
    let code = match number.strip_prefix('x') {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => number.parse().ok()?,
    };
    char::from_u32(code).filter(|&c| c != '\0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use XmlEvent::*;

    fn events(doc: &str) -> Result<Vec<XmlEvent<'_>>, String> {
        let mut reader = XmlReader::new(doc);
        let mut out = Vec::new();
        loop {
            let event = reader.next_event()?;
            if event == Eof {
                return Ok(out);
            }
            out.push(event);
        }
    }

    fn start(name: &str) -> XmlEvent<'_> {
        Start { name, empty: false }
    }

    fn text(text: &str) -> XmlEvent<'_> {
        Text(Cow::Borrowed(text))
    }

    #[test]
    fn reads_elements_text_and_empty_elements() {
        let doc = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- note -->\
                   <r xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><a>x</a>\n  <b/><c  attr='1>2' other=\"/>\"  /><s3:d>y</s3:d ></r>\n";
        assert_eq!(
            events(doc).unwrap(),
            vec![
                start("r"),
                start("a"),
                text("x"),
                End,
                text("\n  "),
                Start { name: "b", empty: true },
                Start { name: "c", empty: true },
                start("d"),
                text("y"),
                End,
                End,
            ]
        );
    }

    #[test]
    fn resolves_references_and_line_ends_but_not_a_referenced_cr() {
        let resolved = |doc| match events(doc).unwrap().remove(1) {
            Text(text) => text.into_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(resolved("<k>&quot;a&quot; &lt;&gt; &amp;amp; &apos;</k>"), "\"a\" <> &amp; '");
        assert_eq!(resolved("<k>&#65;&#x42;&#x1F600;&#13;</k>"), "AB😀\r");
        assert_eq!(resolved("<k>a\r\nb\rc&#13;\r\n</k>"), "a\nb\nc\r\n");
        assert_eq!(resolved("<k>日本&amp;語</k>"), "日本&語");
        assert_eq!(resolved("<k><![CDATA[<a>&amp;\r\n]]></k>"), "<a>&amp;\n");
        assert_eq!(resolved("<k>a > b</k>"), "a > b");
    }

    #[test]
    fn text_without_references_is_borrowed() {
        assert!(matches!(events("<k>plain</k>").unwrap()[1], Text(Cow::Borrowed("plain"))));
    }

    #[test]
    fn refuses_what_is_not_a_well_formed_node_document() {
        for doc in [
            "<a>",
            "<a><b></a></b>",
            "</a>",
            "<a></a></a>",
            "<a>x</b>",
            "<a>&nope;</a>",
            "<a>&#0;</a>",
            "<a>&#xD800;</a>",
            "<a>&#;</a>",
            "<a>&amp</a>",
            "not xml",
            "<a></a>text",
            "<a></a><b></b>",
            "<a/><b/>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a><!-- open",
            "<a><![CDATA[open</a>",
            "<?xml",
            "<a attr=\"open></a>",
            "<a",
            "< a></a>",
            "<a><></a>",
        ] {
            assert!(events(doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn reads_a_document_two_levels_deep() {
        let doc = "<?xml version=\"1.0\"?>\n<r xmlns=\"ns\">\n  <IsTruncated> true </IsTruncated>\n  <Part>\n    \
                   <PartNumber>1</PartNumber><Key>k  </Key><Owner><ID>deep</ID></Owner><Empty/>\n  </Part>\n  <Flag/>\n</r>";
        let children = read_children(doc, "r").unwrap();
        assert_eq!(children.iter().map(|c| c.name).collect::<Vec<_>>(), ["IsTruncated", "Part", "Flag"]);
        assert_eq!(children[0].text, " true ");
        assert_eq!(children[1].field("PartNumber"), Some("1"));
        assert_eq!(children[1].field("Key"), Some("k  "), "text is kept as written");
        assert_eq!(children[1].field("Owner").map(str::trim), Some(""), "deeper elements are skipped");
        assert_eq!(children[1].field("Empty"), Some(""));
        assert_eq!(children[1].field("Missing"), None);
        assert_eq!(children[2], Child { name: "Flag", ..Child::default() });
        assert_eq!(read_children("<r/>", "r").unwrap(), vec![]);
        for (doc, root) in [("<other/>", "r"), ("", "r"), ("<r><a></r>", "r"), ("<r></r><r></r>", "r")] {
            assert!(read_children(doc, root).is_err(), "{doc}");
        }
    }

    #[test]
    fn reads_a_document_of_whichever_kind_it_is() {
        let document =
            read_document("<?xml version=\"1.0\"?>\n<!-- c --><a:Root xmlns:a=\"x\"><A>1</A></a:Root>").unwrap();
        assert_eq!(document.root, "Root");
        assert_eq!(only_child(&document.children, "A"), Ok(Some("1")));
        assert_eq!(only_child(&document.children, "B"), Ok(None));
        for doc in ["", "  text <Root/>", "<!-- only a comment -->"] {
            assert!(read_document(doc).is_err(), "{doc:?}");
        }
        let twice = read_document("<R><A>1</A><A>2</A><P><F>x</F><F>y</F><G/></P></R>").unwrap();
        assert!(only_child(&twice.children, "A").is_err());
        let part = &twice.children[2];
        assert!(part.only_field("F").is_err());
        assert_eq!(part.only_field("G"), Ok(Some("")));
        assert_eq!(part.field("F"), Some("x"));
    }

    #[test]
    fn a_request_is_held_to_its_shape() {
        let doc = "<R>\n <P>\n  <F>a b</F>\n </P>\n <Q> x </Q>\n</R>";
        assert_eq!(read_request(doc, "R"), read_children(doc, "R"));
        for mixed in
            ["<R>text<P/></R>", "<R><P>text<F>a</F></P></R>", "<R><P><F>a</F>text</P></R>", "<R><P><F><G/></F></P></R>"]
        {
            assert!(read_request(mixed, "R").is_err(), "{mixed}");
            assert!(read_children(mixed, "R").is_ok(), "{mixed}");
        }
    }

    #[test]
    fn an_empty_document_has_no_events() {
        assert_eq!(events("").unwrap(), vec![]);
        assert_eq!(events(" \n").unwrap(), vec![]);
    }
}
