// Reference values copied from the real payloads in shared/fixtures/alma/, recombined by the generator.
import type { CodeDesc } from "./types.js"

export interface Bib {
  readonly title: string
  readonly author: string | null
  readonly publication_year: string | null
  readonly call_number: string | null
  readonly date_of_publication: string
}

export const FIXTURE_BIBS: readonly [Bib, ...Bib[]] = [
  {
    title: "Basics of singing / [compiled by] Jan Schmidt.",
    author: "Schmidt, Jan,",
    publication_year: "c1984.",
    call_number: "MT825 .B27 1984",
    date_of_publication: ""
  },
  {
    title: "Plain words on singing / by William Shakespeare ..",
    author: "Shakespeare, William,",
    publication_year: "[1924].",
    call_number: "MT820 .S53",
    date_of_publication: ""
  },
  { title: "Journal of Cats", author: null, publication_year: null, call_number: null, date_of_publication: "" },
  {
    title: "Green mansions = The purple land / W. H. Hudson ; illustrated by Keith Henderson.",
    author: "Hudson, W. H.",
    publication_year: "[19--]",
    call_number: "PR6015.U23 A15",
    date_of_publication: ""
  },
  {
    title: "Short history of Georgia.",
    author: "Coulter, E. Merton",
    publication_year: "c1933.",
    call_number: "975.8 C83",
    date_of_publication: ""
  },
  {
    title: "The social life of language / Gillian Sankoff.",
    author: "Sankoff, Gillian.",
    publication_year: "1980.",
    call_number: "P40 .S26",
    date_of_publication: ""
  },
  {
    title: "Candle flame / Katharine Howard.",
    author: "Howard, Katharine.",
    publication_year: "1937.",
    call_number: null,
    date_of_publication: ""
  },
  {
    title: "Stories and prose poems [by] Alexander Solzhenitsyn. Translated by Michael Glenny.",
    author: "Solzhenit︠s︡yn, Aleksandr Isaevich, 1918-",
    publication_year: "1971.",
    call_number: "PG3488.O4 A25",
    date_of_publication: "November 3, 2003."
  },
  {
    title: "From Grieg to Brahms.",
    author: "Mason, Daniel Gregory, 1873-1953.",
    publication_year: "1902.",
    call_number: "ML390 .M39",
    date_of_publication: ""
  },
  {
    title: "Creative design in wall hangings; weaving patterns based on primitive and medieval art.",
    author: null,
    publication_year: "[1967]",
    call_number: "TT848 .R6",
    date_of_publication: ""
  },
  {
    title: "Re-reading Harry Potter / Suman Gupta.",
    author: "Gupta, Suman, 1966-",
    publication_year: "2003.",
    call_number: "PR6068.O93 Z68 2003",
    date_of_publication: ""
  },
  {
    title: "The talent code : greatest isn't born. It's grown. Here's how. / Daniel Coyle.",
    author: "Coyle, Daniel.",
    publication_year: "c2009.",
    call_number: "BF431 .C69 2009",
    date_of_publication: ""
  },
  {
    title: "Oversigtskort over egnen omkring Hornbæk, Esbønderup og Helsingør / NESA.",
    author: null,
    publication_year: "1950",
    call_number: null,
    date_of_publication: ""
  },
  {
    title: "Ambler / Frank D. Quattrone.",
    author: "Quattrone, Frank D.",
    publication_year: "2009.",
    call_number: "F159.A47 Q38 2009",
    date_of_publication: ""
  }
]

// Synthetic titles widen the pool so that large institutions do not repeat the same 14 books.
export const TOPICS: readonly [string, ...string[]] = [
  "singing",
  "harmony",
  "medieval weaving",
  "Georgia",
  "language",
  "cats",
  "Brahms",
  "glaciers",
  "bridges",
  "Hornbæk",
  "écriture",
  "Zürich"
]
export const AUTHORS: readonly [string, ...string[]] = [
  "Schmidt, Jan,",
  "Hudson, W. H.",
  "Sankoff, Gillian.",
  "Howard, Katharine.",
  "Mason, Daniel Gregory, 1873-1953.",
  "Gupta, Suman, 1966-",
  "Coyle, Daniel.",
  "Quattrone, Frank D.",
  "Müller, Anna.",
  "O'Brien, Seán."
]

export interface Library {
  readonly library: CodeDesc
  readonly circDesk: CodeDesc
  readonly location: { readonly value: string; readonly name: string }
  readonly pickupName: string
}

export const LIBRARIES: readonly [Library, ...Library[]] = [
  {
    library: { value: "MUS", desc: "Music Library" },
    circDesk: { value: "DEFAULT_CIRC_DESK", desc: "Circulation" },
    location: { value: "music", name: "Stacks" },
    pickupName: "Music Library"
  },
  {
    library: { value: "MAIN", desc: "Main Library" },
    circDesk: { value: "DEFAULT_CIRC_DESK", desc: "Main Library Circulation" },
    location: { value: "main", name: "Stacks" },
    pickupName: "Main Library"
  },
  {
    library: { value: "HATCH", desc: "Hatcher Graduate" },
    circDesk: { value: "DEFAULT_CIRC_DESK", desc: "North Information Desk" },
    location: { value: "GRAD", name: "GRAD" },
    pickupName: "Hatcher Graduate"
  },
  {
    library: { value: "MEDIA", desc: "Media Library" },
    circDesk: { value: "DEFAULT_CIRC_DESK", desc: "Media Circulation" },
    location: { value: "media", name: "Media Stacks" },
    pickupName: "Media Library"
  },
  {
    library: { value: "AMBLER", desc: "Ambler Campus Library" },
    circDesk: { value: "AMB_CIRC", desc: "Ambler Circulation Desk" },
    location: { value: "amb", name: "Ambler Stacks" },
    pickupName: "Ambler Campus Library"
  }
]

export const FIRST_NAMES: readonly [string, ...string[]] = [
  "jane",
  "john",
  "maria",
  "wei",
  "olga",
  "ahmed",
  "sofia",
  "liam",
  "noor",
  "kenji",
  "ana",
  "pierre",
  "fatima",
  "lars",
  "chloe",
  "ravi"
]
export const LAST_NAMES: readonly [string, ...string[]] = [
  "doe",
  "bister",
  "smith",
  "garcia",
  "chen",
  "ivanova",
  "haddad",
  "rossi",
  "okafor",
  "tanaka",
  "silva",
  "martin",
  "nguyen",
  "berg",
  "dubois",
  "patel"
]
export const EMAIL_DOMAINS: readonly [string, ...string[]] = [
  "Example.edu",
  "umich.edu",
  "gmail.com",
  "lib.example.org"
]
