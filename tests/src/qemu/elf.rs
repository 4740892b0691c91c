//! A small ELF32 little-endian reader: section headers and `.symtab`.
//!
//! Enough to find the marker functions, report section sizes and name the
//! function at a faulting address, without external tools. Every read is
//! bounds-checked; a malformed file gives an error, never a panic.

/// `sh_type` of a section that occupies no file space (`.bss`).
pub const SHT_NOBITS: u32 = 8;
const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub kind: u32,
    pub flags: u32,
    pub addr: u32,
    pub offset: u32,
    pub size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    pub value: u32,
    pub size: u32,
    /// `st_info & 0xf` (`STT_FUNC` = 2, `STT_OBJECT` = 1, ...).
    pub kind: u8,
    pub section: u16,
}

impl Symbol {
    pub fn is_function(&self) -> bool {
        self.kind == STT_FUNC
    }

    /// The address with the Thumb bit cleared.
    pub fn addr(&self) -> u32 {
        if self.is_function() {
            self.value & !1
        } else {
            self.value
        }
    }
}

#[derive(Clone, Debug)]
pub struct Elf {
    /// `e_machine` (40 = ARM).
    pub machine: u16,
    pub entry: u32,
    pub sections: Vec<Section>,
    pub symbols: Vec<Symbol>,
}

impl Elf {
    pub fn parse(b: &[u8]) -> Result<Elf, String> {
        if b.len() < 52 || &b[..4] != b"\x7fELF" {
            return Err("not an ELF file".into());
        }
        if b[4] != 1 {
            return Err("not a 32-bit ELF file".into());
        }
        if b[5] != 1 {
            return Err("not a little-endian ELF file".into());
        }
        let machine = u16_at(b, 0x12)?;
        let entry = u32_at(b, 0x18)?;
        let shoff = u32_at(b, 0x20)? as usize;
        let shentsize = u16_at(b, 0x2e)? as usize;
        let mut shnum = u16_at(b, 0x30)? as usize;
        let mut shstrndx = u16_at(b, 0x32)? as usize;
        if shoff == 0 {
            return Err("no section headers".into());
        }
        if shentsize < 40 {
            return Err(format!("section header size {shentsize} < 40"));
        }
        // Extended numbering: the real counts live in section 0.
        if shnum == 0 {
            shnum = u32_at(b, shoff + 20)? as usize;
        }
        if shstrndx == 0xffff {
            shstrndx = u32_at(b, shoff + 24)? as usize;
        }
        struct Raw {
            name: u32,
            kind: u32,
            flags: u32,
            addr: u32,
            offset: u32,
            size: u32,
            link: u32,
            entsize: u32,
        }
        let mut raw = Vec::with_capacity(shnum);
        for i in 0..shnum {
            let h = shoff
                .checked_add(i.checked_mul(shentsize).ok_or("section table overflow")?)
                .ok_or("section table overflow")?;
            raw.push(Raw {
                name: u32_at(b, h)?,
                kind: u32_at(b, h + 4)?,
                flags: u32_at(b, h + 8)?,
                addr: u32_at(b, h + 12)?,
                offset: u32_at(b, h + 16)?,
                size: u32_at(b, h + 20)?,
                link: u32_at(b, h + 24)?,
                entsize: u32_at(b, h + 36)?,
            });
        }
        let file_range = |r: &Raw| -> Result<&[u8], String> {
            let (start, len) = (r.offset as usize, r.size as usize);
            b.get(start..start.saturating_add(len))
                .ok_or_else(|| format!("section data {start:#x}+{len:#x} is outside the file"))
        };
        let shstr = match raw.get(shstrndx) {
            Some(r) => file_range(r)?,
            None => &[],
        };
        let sections = raw
            .iter()
            .map(|r| {
                Ok(Section {
                    name: c_str(shstr, r.name as usize)?,
                    kind: r.kind,
                    flags: r.flags,
                    addr: r.addr,
                    offset: r.offset,
                    size: r.size,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;

        let mut symbols = Vec::new();
        if let Some(st) = raw.iter().find(|r| r.kind == SHT_SYMTAB) {
            let data = file_range(st)?;
            let strtab = raw
                .get(st.link as usize)
                .ok_or(".symtab links to no string table")?;
            let strtab = file_range(strtab)?;
            let esz = if st.entsize == 0 {
                16
            } else {
                st.entsize as usize
            };
            if esz < 16 {
                return Err(format!("symbol entry size {esz} < 16"));
            }
            for e in data.chunks_exact(esz).skip(1) {
                symbols.push(Symbol {
                    name: c_str(strtab, u32_at(e, 0)? as usize)?,
                    value: u32_at(e, 4)?,
                    size: u32_at(e, 8)?,
                    kind: e[12] & 0xf,
                    section: u16_at(e, 14)?,
                });
            }
        }
        Ok(Elf {
            machine,
            entry,
            sections,
            symbols,
        })
    }

    pub fn read(path: &std::path::Path) -> Result<Elf, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Elf::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Size of section `name`, 0 when the ELF has no such section.
    pub fn section_size(&self, name: &str) -> u64 {
        self.section(name).map_or(0, |s| s.size as u64)
    }

    pub fn symbol(&self, name: &str) -> Option<&Symbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    /// The function whose body contains `addr`, and the offset into it.
    pub fn function_at(&self, addr: u32) -> Option<(&Symbol, u32)> {
        self.symbols
            .iter()
            .filter(|s| s.is_function() && s.size > 0)
            .find(|s| addr >= s.addr() && addr - s.addr() < s.size)
            .map(|s| (s, addr - s.addr()))
    }
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| format!("truncated ELF (offset {at:#x})"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("truncated ELF (offset {at:#x})"))
}

fn c_str(table: &[u8], at: usize) -> Result<String, String> {
    let rest = table
        .get(at..)
        .ok_or_else(|| format!("string offset {at:#x} out of range"))?;
    let end = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or("unterminated string")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Demangles a legacy Rust symbol (`_ZN4core3fmt5write17h0123456789abcdefE`
/// → `core::fmt::write`); other names come back unchanged.
pub fn demangle(name: &str) -> String {
    let Some(mut rest) = name.strip_prefix("_ZN") else {
        return name.to_string();
    };
    let mut parts = Vec::new();
    while !rest.starts_with('E') {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(len) = rest[..digits].parse::<usize>() else {
            return name.to_string();
        };
        let Some(part) = rest.get(digits..digits + len) else {
            return name.to_string();
        };
        // A component that starts with `$` is written with a leading `_`.
        parts.push(part.strip_prefix("_$").map_or(part, |_| &part[1..]));
        rest = &rest[digits + len..];
    }
    if parts
        .last()
        .is_some_and(|p| p.len() == 17 && p.starts_with('h'))
    {
        parts.pop();
    }
    let joined = parts.join("::");
    let mut out = String::new();
    let mut s = joined.as_str();
    while let Some(i) = s.find('$') {
        out.push_str(&s[..i]);
        let tail = &s[i..];
        let mapped = [
            ("$LT$", "<"),
            ("$GT$", ">"),
            ("$RF$", "&"),
            ("$BP$", "*"),
            ("$C$", ","),
            ("$SP$", "@"),
            ("$u20$", " "),
            ("$u27$", "'"),
            ("$u5b$", "["),
            ("$u5d$", "]"),
            ("$u7b$", "{"),
            ("$u7d$", "}"),
            ("$u7e$", "~"),
        ]
        .iter()
        .find(|(k, _)| tail.starts_with(k));
        match mapped {
            Some((k, v)) => {
                out.push_str(v);
                s = &tail[k.len()..];
            }
            None => {
                out.push('$');
                s = &tail[1..];
            }
        }
    }
    out.push_str(s);
    out.replace("..", "::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf_and_truncated_input() {
        assert!(Elf::parse(b"hello").unwrap_err().contains("not an ELF"));
        let mut b = vec![0u8; 52];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        assert!(Elf::parse(&b).unwrap_err().contains("32-bit"));
        b[4] = 1;
        b[5] = 1;
        b[0x20] = 0xff; // section table past the end
        b[0x2e] = 40;
        b[0x30] = 1;
        assert!(Elf::parse(&b).unwrap_err().contains("truncated"));
    }

    #[test]
    fn demangles_legacy_rust_names() {
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE"),
            "core::fmt::write"
        );
        let part = "_$LT$mcuc_firmware..model..Model$u20$as$u20$Trait$GT$";
        let name = format!("_ZN{}{part}6invoke17h0123456789abcdefE", part.len());
        assert_eq!(
            demangle(&name),
            "<mcuc_firmware::model::Model as Trait>::invoke"
        );
        assert_eq!(demangle("mcuc_mark_start"), "mcuc_mark_start");
    }
}
