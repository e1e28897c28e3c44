"""A coupon before it goes on sale: drafts, publishing them (with what changes against the live version), taking a
coupon back off sale, and a sandbox where QA sells test tickets on a draft and settles them."""
