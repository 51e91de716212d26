//! `#[derive(Xdr)]`: implements `oxvirt_rpc::xdr::XdrEncode` and `XdrDecode`.
//!
//! - Structs (named or tuple fields) encode their fields in declaration order, as an XDR
//!   struct does. A field marked `#[xdr(max = EXPR)]` is decoded through
//!   `XdrBounded::decode_bounded` with that limit (a `string<N>`, `opaque<N>` or `T<N>`).
//! - Enums with only unit variants are XDR enums: a 4-byte signed discriminant
//!   (`#[repr(i32)]`, explicit or implicit values). Decoding an unknown value is an error.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Expr, Fields, Index};

/// Derives `XdrEncode` and `XdrDecode` for a struct or a unit-only enum.
#[proc_macro_derive(Xdr, attributes(xdr))]
pub fn derive_xdr(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    match &input.data {
        Data::Struct(data) => expand_struct(input, &data.fields),
        Data::Enum(data) => expand_enum(input, data),
        Data::Union(_) => Err(syn::Error::new_spanned(
            &input.ident,
            "Xdr cannot be derived for a Rust union; write the XDR union by hand",
        )),
    }
}

/// The `max` of a field's `#[xdr(max = EXPR)]`, if any.
fn field_max(attrs: &[syn::Attribute]) -> syn::Result<Option<Expr>> {
    let mut max = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("xdr")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("max") {
                max = Some(meta.value()?.parse::<Expr>()?);
                Ok(())
            } else {
                Err(meta.error("unknown xdr attribute; expected `max = N`"))
            }
        })?;
    }
    Ok(max)
}

fn decode_field(ty: &syn::Type, max: Option<Expr>) -> Tokens {
    match max {
        Some(max) => quote! {
            <#ty as ::oxvirt_rpc::xdr::XdrBounded>::decode_bounded(r, #max)?
        },
        None => quote! { <#ty as ::oxvirt_rpc::xdr::XdrDecode>::decode(r)? },
    }
}

fn expand_struct(input: &DeriveInput, fields: &Fields) -> syn::Result<Tokens> {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut encodes = Vec::new();
    let mut decodes = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let decode = decode_field(&field.ty, field_max(&field.attrs)?);
        match &field.ident {
            Some(ident) => {
                encodes.push(quote! {
                    ::oxvirt_rpc::xdr::XdrEncode::encode(&self.#ident, out);
                });
                decodes.push(quote! { #ident: #decode, });
            }
            None => {
                let index = Index::from(i);
                encodes.push(quote! {
                    ::oxvirt_rpc::xdr::XdrEncode::encode(&self.#index, out);
                });
                decodes.push(quote! { #decode, });
            }
        }
    }
    let construct = match fields {
        Fields::Named(_) => quote! { #name { #(#decodes)* } },
        Fields::Unnamed(_) => quote! { #name ( #(#decodes)* ) },
        Fields::Unit => quote! { #name },
    };
    let out_ident = if fields.is_empty() {
        quote! { _out }
    } else {
        quote! { out }
    };
    let r_ident = if fields.is_empty() {
        quote! { _r }
    } else {
        quote! { r }
    };
    Ok(quote! {
        impl #impl_generics ::oxvirt_rpc::xdr::XdrEncode for #name #ty_generics #where_clause {
            fn encode(&self, #out_ident: &mut ::std::vec::Vec<u8>) {
                #(#encodes)*
            }
        }
        impl #impl_generics ::oxvirt_rpc::xdr::XdrDecode for #name #ty_generics #where_clause {
            fn decode(
                #r_ident: &mut ::oxvirt_rpc::xdr::Reader<'_>,
            ) -> ::std::result::Result<Self, ::oxvirt_rpc::xdr::XdrError> {
                ::std::result::Result::Ok(#construct)
            }
        }
    })
}

fn expand_enum(input: &DeriveInput, data: &syn::DataEnum) -> syn::Result<Tokens> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "an XDR enum cannot be generic",
        ));
    }
    let repr_i32 = input.attrs.iter().any(|a| {
        a.path().is_ident("repr")
            && a.parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "i32")
    });
    if !repr_i32 {
        return Err(syn::Error::new_spanned(
            name,
            "an XDR enum must be #[repr(i32)]",
        ));
    }
    let mut encodes = Vec::new();
    let mut decodes = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                variant,
                "an XDR enum has only unit variants; write XDR unions by hand",
            ));
        }
        let ident = &variant.ident;
        encodes.push(quote! { #name::#ident => #name::#ident as i32, });
        decodes.push(quote! {
            v if v == #name::#ident as i32 => ::std::result::Result::Ok(#name::#ident),
        });
    }
    let type_name = name.to_string();
    Ok(quote! {
        impl ::oxvirt_rpc::xdr::XdrEncode for #name {
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                let value: i32 = match self { #(#encodes)* };
                ::oxvirt_rpc::xdr::XdrEncode::encode(&value, out);
            }
        }
        impl ::oxvirt_rpc::xdr::XdrDecode for #name {
            fn decode(
                r: &mut ::oxvirt_rpc::xdr::Reader<'_>,
            ) -> ::std::result::Result<Self, ::oxvirt_rpc::xdr::XdrError> {
                match <i32 as ::oxvirt_rpc::xdr::XdrDecode>::decode(r)? {
                    #(#decodes)*
                    other => ::std::result::Result::Err(::oxvirt_rpc::xdr::XdrError::BadEnum {
                        name: #type_name,
                        value: other,
                    }),
                }
            }
        }
    })
}
