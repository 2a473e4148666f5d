//! XML canonicalization over a parsed `roxmltree` tree.
//!
//! Implements Canonical XML 1.0 (inclusive, <https://www.w3.org/TR/2001/REC-xml-c14n-20010315>)
//! and Exclusive XML Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>),
//! with and without comments, for the document subset "the subtree rooted at
//! an element, minus (optionally) one excluded subtree" — which is exactly the
//! node-set an XML-DSig same-document reference plus the enveloped-signature
//! transform produce, and the node-set used for `SignedInfo`.
//!
//! roxmltree does not keep prefixes, so element and attribute prefixes are
//! recovered from the source text via the node / attribute byte ranges (the
//! parser has already validated the qualified names). Namespace *declarations*
//! are not needed: both algorithms are defined over the in-scope namespace
//! nodes, which roxmltree reports per element (`Node::namespaces()`, without
//! the implicit `xml` binding, and with `xmlns=""` reported as an empty
//! default namespace).
//!
//! The traversal is iterative so deeply nested input cannot overflow the stack.

use roxmltree::{Node, NodeId, NodeType};

use crate::error::SamlError;

/// The XML namespace; its prefix is never rendered as a namespace node.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Which canonicalization to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C14nMode {
    /// Exclusive C14N (true) or inclusive Canonical XML 1.0 (false).
    pub exclusive: bool,
    /// Keep comment nodes.
    pub with_comments: bool,
    /// Exclusive only: the InclusiveNamespaces PrefixList; `""` stands for `#default`.
    pub inclusive_prefixes: Vec<String>,
}

/// Canonicalizes the subtree rooted at `apex` (an element), leaving out the
/// subtree rooted at `exclude` if given.
pub fn canonicalize(
    apex: Node<'_, '_>,
    exclude: Option<NodeId>,
    mode: &C14nMode,
) -> Result<Vec<u8>, SamlError> {
    if !apex.is_element() {
        return Err(SamlError::MalformedXml);
    }
    let src = apex.document().input_text();
    let mut out = Vec::with_capacity(src.len());
    // Canonical output of real documents is about as long as their source;
    // namespace redeclarations on hostile input could multiply it.
    let max_out = src.len().saturating_mul(8).saturating_add(64 * 1024);
    // Namespace bindings rendered by output ancestors: (prefix, uri), "" = default.
    let mut rendered: Vec<(String, String)> = Vec::new();

    enum Step<'a, 'i> {
        Open(Node<'a, 'i>),
        Close(Node<'a, 'i>, usize),
    }
    let mut stack = vec![Step::Open(apex)];
    while let Some(step) = stack.pop() {
        match step {
            Step::Close(node, mark) => {
                out.extend_from_slice(b"</");
                out.extend_from_slice(element_qname(node, src)?.as_bytes());
                out.push(b'>');
                rendered.truncate(mark);
            }
            Step::Open(node) => {
                if Some(node.id()) == exclude {
                    continue;
                }
                match node.node_type() {
                    NodeType::Element => {
                        let mark = rendered.len();
                        open_tag(node, node == apex, mode, src, &mut rendered, &mut out)?;
                        if out.len() > max_out {
                            return Err(SamlError::TooLarge);
                        }
                        stack.push(Step::Close(node, mark));
                        // Push children in reverse so they pop in document order.
                        let children: Vec<_> = node.children().collect();
                        for child in children.into_iter().rev() {
                            stack.push(Step::Open(child));
                        }
                    }
                    NodeType::Text => escape_text(node.text().unwrap_or(""), &mut out),
                    NodeType::Comment => {
                        if mode.with_comments {
                            out.extend_from_slice(b"<!--");
                            out.extend_from_slice(node.text().unwrap_or("").as_bytes());
                            out.extend_from_slice(b"-->");
                        }
                    }
                    NodeType::PI => {
                        if let Some(pi) = node.pi() {
                            out.extend_from_slice(b"<?");
                            out.extend_from_slice(pi.target.as_bytes());
                            if let Some(v) = pi.value.filter(|v| !v.is_empty()) {
                                out.push(b' ');
                                out.extend_from_slice(v.as_bytes());
                            }
                            out.extend_from_slice(b"?>");
                        }
                    }
                    NodeType::Root => return Err(SamlError::MalformedXml),
                }
            }
        }
    }
    Ok(out)
}

/// The binding currently in effect in the output for `prefix` (`""` = default,
/// which is in effect as the empty namespace when nothing rendered it).
fn in_effect<'r>(rendered: &'r [(String, String)], prefix: &str) -> Option<&'r str> {
    match rendered.iter().rev().find(|(p, _)| p == prefix) {
        Some((_, uri)) => Some(uri.as_str()),
        None if prefix.is_empty() => Some(""),
        None => None,
    }
}

fn open_tag(
    node: Node<'_, '_>,
    is_apex: bool,
    mode: &C14nMode,
    src: &str,
    rendered: &mut Vec<(String, String)>,
    out: &mut Vec<u8>,
) -> Result<(), SamlError> {
    let qname = element_qname(node, src)?;
    let elem_prefix = prefix_of(qname);

    // In-scope namespace nodes of this element (default as "").
    let in_scope: Vec<(&str, &str)> = node
        .namespaces()
        .map(|ns| (ns.name().unwrap_or(""), ns.uri()))
        .filter(|(p, _)| *p != "xml")
        .collect();
    let lookup = |prefix: &str| -> Option<&str> {
        in_scope
            .iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
            .or(if prefix.is_empty() { Some("") } else { None })
    };

    // Candidate namespace nodes to consider for rendering.
    let mut candidates: Vec<(String, String)> = Vec::new();
    let mut add = |p: &str, u: &str| {
        if p != "xml" && !candidates.iter().any(|(cp, _)| cp == p) {
            candidates.push((p.to_string(), u.to_string()));
        }
    };
    if mode.exclusive {
        // Visibly utilized: the element's own prefix (or the default namespace)
        if let Some(u) = lookup(elem_prefix) {
            add(elem_prefix, u);
        }
        // ...and the prefixes of its attributes (unprefixed attributes use none).
        for attr in node.attributes() {
            let aq = attr_qname(&attr, src)?;
            let ap = prefix_of(aq);
            if !ap.is_empty()
                && let Some(u) = lookup(ap)
            {
                add(ap, u);
            }
        }
        // InclusiveNamespaces PrefixList: handled per inclusive rules, only if in scope.
        for p in &mode.inclusive_prefixes {
            if let Some(u) = lookup(p) {
                add(p, u);
            }
        }
    } else {
        for (p, u) in &in_scope {
            add(p, u);
        }
        // No default namespace in scope: an empty default may need `xmlns=""`.
        if !in_scope.iter().any(|(p, _)| p.is_empty()) {
            add("", "");
        }
    }

    let mut ns_out: Vec<(String, String)> = candidates
        .into_iter()
        .filter(|(p, u)| in_effect(rendered, p) != Some(u.as_str()))
        .collect();
    ns_out.sort_by(|a, b| a.0.cmp(&b.0));

    // Attributes: (namespace uri, local name, qname, value).
    let mut attrs: Vec<(String, String, String, String)> = Vec::new();
    for attr in node.attributes() {
        attrs.push((
            attr.namespace().unwrap_or("").to_string(),
            attr.name().to_string(),
            attr_qname(&attr, src)?.to_string(),
            attr.value().to_string(),
        ));
    }
    // Canonical XML 1.0 document subsets: the apex (whose parent is not in the
    // node-set) inherits xml:* attributes from its ancestors.
    if !mode.exclusive && is_apex {
        for anc in node.ancestors().skip(1).filter(|a| a.is_element()) {
            for attr in anc.attributes() {
                if attr.namespace() == Some(XML_NS)
                    && !attrs.iter().any(|a| a.0 == XML_NS && a.1 == attr.name())
                {
                    attrs.push((
                        XML_NS.to_string(),
                        attr.name().to_string(),
                        format!("xml:{}", attr.name()),
                        attr.value().to_string(),
                    ));
                }
            }
        }
    }
    attrs.sort_by(|a, b| (a.0.as_str(), a.1.as_str()).cmp(&(b.0.as_str(), b.1.as_str())));

    out.push(b'<');
    out.extend_from_slice(qname.as_bytes());
    for (p, u) in &ns_out {
        if p.is_empty() {
            out.extend_from_slice(b" xmlns=\"");
        } else {
            out.extend_from_slice(b" xmlns:");
            out.extend_from_slice(p.as_bytes());
            out.extend_from_slice(b"=\"");
        }
        escape_attr(u, out);
        out.push(b'"');
    }
    for (_, _, q, v) in &attrs {
        out.push(b' ');
        out.extend_from_slice(q.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_attr(v, out);
        out.push(b'"');
    }
    out.push(b'>');
    rendered.extend(ns_out);
    Ok(())
}

/// The prefix part of a qualified name, `""` when unprefixed.
fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map(|(p, _)| p).unwrap_or("")
}

/// The element's qualified name as written in the source (`<prefix:local`).
fn element_qname<'i>(node: Node<'_, 'i>, src: &'i str) -> Result<&'i str, SamlError> {
    let start = node.range().start;
    let rest = src
        .get(start..)
        .and_then(|s| s.strip_prefix('<'))
        .ok_or(SamlError::MalformedXml)?;
    let end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    let qname = rest.get(..end).ok_or(SamlError::MalformedXml)?;
    // Cross-check against the parsed name so a range mismatch can never go unnoticed.
    let local = qname.rsplit(':').next().unwrap_or(qname);
    if local != node.tag_name().name() {
        return Err(SamlError::MalformedXml);
    }
    Ok(qname)
}

/// The attribute's qualified name as written in the source.
fn attr_qname<'i>(attr: &roxmltree::Attribute<'_, 'i>, src: &'i str) -> Result<&'i str, SamlError> {
    let qname = src.get(attr.range_qname()).ok_or(SamlError::MalformedXml)?;
    let local = qname.rsplit(':').next().unwrap_or(qname);
    if local != attr.name() {
        return Err(SamlError::MalformedXml);
    }
    Ok(qname)
}

fn escape_text(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'\r' => out.extend_from_slice(b"&#xD;"),
            _ => out.push(b),
        }
    }
}

fn escape_attr(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\t' => out.extend_from_slice(b"&#x9;"),
            b'\n' => out.extend_from_slice(b"&#xA;"),
            b'\r' => out.extend_from_slice(b"&#xD;"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn c14n(xml: &str, exclusive: bool, with_comments: bool) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let mode = C14nMode {
            exclusive,
            with_comments,
            inclusive_prefixes: vec![],
        };
        String::from_utf8(canonicalize(doc.root_element(), None, &mode).unwrap()).unwrap()
    }

    #[test]
    fn basic_rules() {
        let xml = "<a xmlns=\"urn:x\" b=\"1\" a=\"&#9;&#10;&#13;&quot;\"><e/><!--c--><?pi  v?>t&amp;&lt;&gt;&#13;</a>";
        assert_eq!(
            c14n(xml, true, false),
            "<a xmlns=\"urn:x\" a=\"&#x9;&#xA;&#xD;&quot;\" b=\"1\"><e></e><?pi v?>t&amp;&lt;&gt;&#xD;</a>"
        );
        assert_eq!(
            c14n(xml, false, true),
            "<a xmlns=\"urn:x\" a=\"&#x9;&#xA;&#xD;&quot;\" b=\"1\"><e></e><!--c--><?pi v?>t&amp;&lt;&gt;&#xD;</a>"
        );
    }

    #[test]
    fn exclusive_drops_unused_prefixes() {
        let xml =
            "<p:a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\"><b xmlns=\"urn:d\"><c xmlns=\"\"/></b></p:a>";
        assert_eq!(
            c14n(xml, true, false),
            "<p:a xmlns:p=\"urn:p\"><b xmlns=\"urn:d\"><c xmlns=\"\"></c></b></p:a>"
        );
        assert_eq!(
            c14n(xml, false, false),
            "<p:a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\"><b xmlns=\"urn:d\"><c xmlns=\"\"></c></b></p:a>"
        );
    }

    fn c14n_el(xml: &str, name: &str, exclusive: bool, prefixes: &[&str]) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let node = doc
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .unwrap();
        let mode = C14nMode {
            exclusive,
            with_comments: false,
            inclusive_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        };
        String::from_utf8(canonicalize(node, None, &mode).unwrap()).unwrap()
    }

    /// Canonical XML 1.0 on a document subset: the apex renders every
    /// in-scope namespace and inherits xml:* attributes from its ancestors
    /// (lxml copies the element into a new document instead, so these cases
    /// are not in the lxml vectors).
    #[test]
    fn inclusive_subset_inherits_xml_attributes() {
        let xml = "<r xmlns=\"urn:r\" xmlns:p=\"urn:p\" xml:lang=\"fr\" xml:space=\"preserve\"><m xml:lang=\"de\"><a b=\"1\"><c/></a></m></r>";
        assert_eq!(
            c14n_el(xml, "a", false, &[]),
            "<a xmlns=\"urn:r\" xmlns:p=\"urn:p\" b=\"1\" xml:lang=\"de\" xml:space=\"preserve\"><c></c></a>"
        );
        // exclusive C14N never inherits xml:* attributes
        assert_eq!(
            c14n_el(xml, "a", true, &[]),
            "<a xmlns=\"urn:r\" b=\"1\"><c></c></a>"
        );
    }

    /// `#default` in the InclusiveNamespaces PrefixList (lxml ignores it).
    #[test]
    fn exclusive_default_in_prefix_list() {
        let xml = "<r xmlns=\"urn:r\" xmlns:p=\"urn:p\" xmlns:q=\"urn:q\"><p:a><p:b/><c xmlns=\"\"/></p:a></r>";
        assert_eq!(
            c14n_el(xml, "a", true, &[""]),
            "<p:a xmlns=\"urn:r\" xmlns:p=\"urn:p\"><p:b></p:b><c xmlns=\"\"></c></p:a>"
        );
        assert_eq!(
            c14n_el(xml, "a", true, &[]),
            "<p:a xmlns:p=\"urn:p\"><p:b></p:b><c></c></p:a>"
        );
        assert_eq!(
            c14n_el(xml, "a", true, &["q", "zz"]),
            "<p:a xmlns:p=\"urn:p\" xmlns:q=\"urn:q\"><p:b></p:b><c></c></p:a>"
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 50_000;
        let xml = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        let opts = roxmltree::ParsingOptions::default();
        if let Ok(doc) = roxmltree::Document::parse_with_options(&xml, opts) {
            let mode = C14nMode {
                exclusive: true,
                with_comments: false,
                inclusive_prefixes: vec![],
            };
            let out = canonicalize(doc.root_element(), None, &mode).unwrap();
            assert_eq!(out.len(), xml.len());
        }
    }
}
